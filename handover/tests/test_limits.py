"""Free text has one limit per field on every path: a refusal names the field and writes nothing."""

import re

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from rest_framework.test import APIClient

from clients.validators import LONG_TEXT_MAX_LENGTH, TEXT_MAX_LENGTH
from handover import services
from handover.models import CallResult, Event, Handover, HandoverClient, Report, State, Visit, VisitMode
from tests.walk import advance_to

CJK = re.compile(r"[\u4e00-\u9fff]")


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _at(handover, state):
    return advance_to(handover, state)


def _handed_over_item(h):
    item = h.items.first()
    services.item_hand_over(item=item, user=h.departing)
    return item


def _visit_body(h, **text):
    return {
        "handover_client": h.clients.first().pk,
        "visited_on": str(timezone.localdate()),
        "mode": VisitMode.IN_PERSON,
        "contact_met": "王采购",
        "outcome": "介绍了新对接人",
        "concerns": "",
        **text,
    }


def _phone_body(h, note):
    return {"handover_client": h.clients.filter(in_sample=True).first().pk, "result": CallResult.UNAWARE, "note": note}


TOO_LONG = "长" * (TEXT_MAX_LENGTH + 1)
# Each write of the API that carries free text: (state, who, method, path, body, field).
CASES = {
    "plan current_status": (
        State.PLAN,
        "departing",
        "patch",
        lambda h: f"clients/{h.clients.first().pk}/",
        lambda h: {"current_status": TOO_LONG},
        "current_status",
    ),
    "plan risks": (
        State.PLAN,
        "departing",
        "patch",
        lambda h: f"clients/{h.clients.first().pk}/",
        lambda h: {"risks": TOO_LONG, "next_steps": "共同拜访"},
        "risks",
    ),
    "plan next_steps": (
        State.PLAN,
        "departing",
        "patch",
        lambda h: f"clients/{h.clients.first().pk}/",
        lambda h: {"next_steps": TOO_LONG},
        "next_steps",
    ),
    "return reason": (
        State.PLAN_REVIEW,
        "supervisor",
        "post",
        lambda h: "transitions/return_plan_review/",
        lambda h: {"comment": TOO_LONG},
        "comment",
    ),
    "hand-over note": (
        State.MATERIALS,
        "departing",
        "post",
        lambda h: f"items/{h.items.first().pk}/hand-over/",
        lambda h: {"note": TOO_LONG},
        "note",
    ),
    "dispute reason": (
        State.MATERIALS,
        "receiver",
        "post",
        lambda h: f"items/{_handed_over_item(h).pk}/dispute/",
        lambda h: {"reason": TOO_LONG},
        "reason",
    ),
    "visit outcome": (
        State.VISITS,
        "departing",
        "post",
        lambda h: "visits/",
        lambda h: _visit_body(h, outcome=TOO_LONG),
        "outcome",
    ),
    "visit concerns": (
        State.VISITS,
        "departing",
        "post",
        lambda h: "visits/",
        lambda h: _visit_body(h, concerns=TOO_LONG),
        "concerns",
    ),
    "visit contact met": (
        State.VISITS,
        "departing",
        "post",
        lambda h: "visits/",
        lambda h: _visit_body(h, contact_met="王" * 101),
        "contact_met",
    ),
    "phone-check note": (
        State.SPOT_CHECK,
        "witness",
        "post",
        lambda h: "phone-checks/",
        lambda h: _phone_body(h, TOO_LONG),
        "note",
    ),
    "report summary": (
        State.REPORT,
        "departing",
        "put",
        lambda h: "report/",
        lambda h: {"summary": "长" * (LONG_TEXT_MAX_LENGTH + 1)},
        "summary",
    ),
    "report advice": (
        State.REPORT,
        "departing",
        "put",
        lambda h: "report/",
        lambda h: {"summary": "交接完成", "advice": "长" * (LONG_TEXT_MAX_LENGTH + 1)},
        "advice",
    ),
}


def _written(h) -> tuple:
    """Everything a refused write could have touched."""
    h = Handover.objects.get(pk=h.pk)
    return (
        h.version,
        h.state,
        h.last_return_reason,
        Event.objects.filter(handover=h).count(),
        list(h.items.values_list("status", "dispute_reason")),
        list(h.clients.values_list("current_status", "risks", "next_steps")),
        Visit.objects.filter(handover_client__handover=h).count(),
        sum(hc.phone_checks.count() for hc in h.clients.all()),
        Report.objects.filter(handover=h).values_list("summary", "advice").first(),
    )


@pytest.mark.parametrize("case", CASES.keys())
def test_the_api_refuses_text_over_the_limit_and_writes_nothing(handover, people, case):
    state, who, method, path, body, field = CASES[case]
    h = _at(handover, state)
    path, body = path(h), body(h)
    before = _written(h)

    response = getattr(as_user(getattr(people, who)), method)(f"/api/handovers/{h.pk}/{path}", body, format="json")

    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "invalid" and error["field"] == field
    assert CJK.search(error["detail"]) and re.search(r"\b(4000|20000|100)\b", error["detail"])
    assert _written(h) == before


def test_the_api_takes_text_up_to_the_limit(handover, people):
    hc = handover.clients.first()
    response = as_user(people.departing).patch(
        f"/api/handovers/{handover.pk}/clients/{hc.pk}/", {"risks": "长" * TEXT_MAX_LENGTH}, format="json"
    )
    assert response.status_code == 200, response.content
    assert len(HandoverClient.objects.get(pk=hc.pk).risks) == TEXT_MAX_LENGTH


def test_the_plan_page_refuses_text_over_the_limit_and_writes_nothing(handover, people, login):
    hc = handover.clients.first()
    before = _written(handover)
    plan = {
        "version": handover.version,
        "current_status": TOO_LONG,
        "risks": "付款偏慢",
        "next_steps": "一起拜访",
        "planned_visit_on": f"{handover.last_working_day:%Y-%m-%d}",
    }

    response = login(people.departing).post(f"/handovers/{handover.pk}/clients/{hc.pk}/plan/", plan, follow=True)

    messages = [str(m) for m in response.context["messages"]]
    assert any("当前状态" in m and "4000" in m for m in messages), messages
    assert _written(handover) == before


def test_the_model_refuses_text_over_the_limit_for_the_admin(handover):
    hc = handover.clients.first()
    hc.risks = TOO_LONG
    with pytest.raises(ValidationError) as refused:
        hc.full_clean()
    assert "risks" in refused.value.message_dict


def test_the_limit_is_the_same_on_every_path():
    from handover import forms, serializers

    for form, serializer, model, name in [
        (forms.PlanForm, serializers.HandoverClientUpdateSerializer, HandoverClient, "current_status"),
        (forms.ReportForm, serializers.ReportUpdateSerializer, Report, "summary"),
        (forms.VisitForm, serializers.VisitCreateSerializer, Visit, "outcome"),
    ]:
        limit = model._meta.get_field(name).max_length
        assert limit in (TEXT_MAX_LENGTH, LONG_TEXT_MAX_LENGTH)
        assert form.base_fields[name].max_length == limit
        assert serializer().fields[name].max_length == limit
