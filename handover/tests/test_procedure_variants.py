"""Procedure variants: which parts of the procedure each kind of handover goes through, set in the
admin and read by the flow spec; the invariants stay (the plan and the final approval, the
signatures of every part kept, the parties' independence, the atomic transfer)."""

import datetime
import itertools

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.tests.factories import UserFactory
from clients.models import Client
from handover import flow, services, signing
from handover.flow import Part, State
from handover.models import (
    COVER_REASONS,
    Handover,
    ProcedureVariant,
    Reason,
    Report,
    SignaturePurpose,
    StageDeadline,
    StageDuration,
)
from handover.selectors.page.prints import print_links
from handover.selectors.page.stages import stage_cells
from handover.selectors.page.workspace import tab_links
from handover.services.invitations import _planned_day
from tests.walk import advance_to, sign_missing, signature_of

SHORT = [Part.PLAN, Part.MATERIALS, Part.APPROVAL]


def _only(reason: str, *kept: str) -> ProcedureVariant:
    variant = ProcedureVariant.objects.get(reason=reason)
    for part in flow.OPTIONAL_PARTS:
        setattr(variant, part, part in kept)
    variant.full_clean()
    variant.save()
    return variant


def _approve(h: Handover, name: str, user) -> Handover:
    return services.handover_transition(handover=h.pk, name=name, user=user, signature=signature_of(user))


# ---------------------------------------------------------------------------------------
# The variants the company starts with


def test_every_kind_has_a_variant_a_departure_every_part_a_cover_the_short_procedure(db):
    for reason in Reason.values:
        variant = ProcedureVariant.objects.get(reason=reason)
        expected = SHORT if reason in COVER_REASONS else list(flow.ALL_PARTS)
        assert variant.parts == expected, reason
        # Without a saved row the same default is used.
        assert ProcedureVariant(reason=reason).parts == list(flow.ALL_PARTS)
        variant.delete()
        assert ProcedureVariant.for_reason(reason).parts == expected, reason


def test_a_handover_copies_its_kinds_parts_and_gets_deadlines_only_for_its_states(start, people):
    _only(Reason.RESIGNATION, Part.MATERIALS)
    h = start()
    assert h.parts == SHORT
    assert h.path == [
        State.PLAN,
        State.PLAN_REVIEW,
        State.PLAN_APPROVAL,
        State.MATERIALS,
        State.MATERIALS_REVIEW,
        State.REPORT_APPROVAL,
    ]
    assert set(StageDeadline.objects.filter(handover=h).values_list("state", flat=True)) == set(h.path)


def test_a_variant_changed_later_does_not_move_a_handover_under_way(handover):
    _only(Reason.RESIGNATION, Part.MATERIALS)
    handover.refresh_from_db()
    assert handover.parts == list(flow.ALL_PARTS)
    h = advance_to(handover, State.MATERIALS_REVIEW)
    h = _approve(h, "approve_materials", h.supervisor)
    assert h.state == State.VISITS


def test_a_variants_own_days_come_before_the_companys(start, people):
    variant = _only(Reason.RESIGNATION, Part.MATERIALS)
    StageDuration.objects.filter(variant=None, state=State.PLAN).update(working_days=2)
    StageDuration.objects.create(variant=variant, state=State.MATERIALS, working_days=9)
    h = start()
    due = dict(StageDeadline.objects.filter(handover=h).values_list("state", "due_on"))
    plan_days = services.stage_deadlines(
        start=max(timezone.localdate(), h.notice_date), last_working_day=h.last_working_day
    )
    # The company's plan days apply; the variant's own materials days replace the company's 3.
    assert due[State.PLAN] == plan_days[State.PLAN]
    assert due[State.MATERIALS] > plan_days[State.MATERIALS]


# ---------------------------------------------------------------------------------------
# The short procedure, walked


def test_the_short_procedure_skips_the_parts_left_out_and_moves_the_clients(start, people, book):
    _only(Reason.RESIGNATION, Part.MATERIALS)
    h = start()
    h = advance_to(h, State.PLAN_APPROVAL)
    h = _approve(h, "approve_plan", h.manager)
    assert h.state == State.MATERIALS
    h = advance_to(h, State.MATERIALS_REVIEW)
    h = _approve(h, "approve_materials", h.supervisor)
    # Straight to the final approval: no visits, no spot-check, no report of its own.
    assert h.state == State.REPORT_APPROVAL
    assert h.sample_seed is None and not h.clients.filter(in_sample=True).exists()
    # The report's figures are fixed as the final approval is reached.
    assert Report.objects.get(handover=h).figures["clients"] == len(book)
    advance_to(h, State.COMPLETED)
    assert set(Client.objects.filter(pk__in=[c.pk for c in book]).values_list("owner_id", flat=True)) == {
        people.receiver.pk
    }


def test_a_kept_part_still_needs_its_signatures(start, people):
    _only(Reason.RESIGNATION, Part.MATERIALS)
    h = advance_to(start(), State.MATERIALS)
    services.items_hand_over_all(handover=h, user=h.departing)
    services.items_confirm_all(handover=h, user=people.receiver)
    # Every item confirmed, the receipt not signed: the departing person is refused.
    with pytest.raises(services.InvalidInput) as refused:
        services.handover_transition(handover=h.pk, name="submit_materials", user=h.departing)
    assert people.receiver.display_name in refused.value.message
    assert Handover.objects.get(pk=h.pk).state == State.MATERIALS


def test_the_final_approval_still_needs_the_checklist_and_the_managers_signature(start, people):
    _only(Reason.RESIGNATION, Part.MATERIALS)
    h = advance_to(start(), State.REPORT_APPROVAL)
    # Nobody has signed the checklist: the manager is refused, and nothing moves.
    with pytest.raises(services.InvalidInput):
        _approve(h, "approve_report", h.manager)
    sign_missing(h, SignaturePurpose.CHECKLIST)
    # Signed by all three, but the manager gives no signature of their own: refused.
    with pytest.raises(services.InvalidInput):
        services.handover_transition(handover=h.pk, name="approve_report", user=h.manager)
    assert Handover.objects.get(pk=h.pk).state == State.REPORT_APPROVAL
    # The witness of a handover without a spot-check still signs the checklist.
    checker = signing.SignatureChecker(Handover.objects.get(pk=h.pk))
    assert checker.missing(SignaturePurpose.CHECKLIST) == []
    assert _approve(h, "approve_report", h.manager).state == State.COMPLETED


def test_a_return_from_the_final_approval_without_a_report_goes_back_to_the_materials(start, people):
    _only(Reason.RESIGNATION, Part.MATERIALS)
    h = advance_to(start(), State.REPORT_APPROVAL)
    with pytest.raises(services.InvalidInput):
        services.handover_transition(handover=h.pk, name="return_report", user=h.manager)
    h = services.handover_transition(handover=h.pk, name="return_report", user=h.manager, comment="合同原件不全")
    assert h.state == State.MATERIALS
    assert h.last_return_reason == "合同原件不全"


def test_the_plan_alone_then_the_final_approval(start, people):
    _only(Reason.RESIGNATION)
    h = advance_to(start(), State.PLAN_APPROVAL)
    h = _approve(h, "approve_plan", h.manager)
    assert h.state == State.REPORT_APPROVAL
    h = services.handover_transition(handover=h.pk, name="return_report", user=h.manager, comment="计划需补充")
    assert h.state == State.PLAN


def test_the_visits_kept_without_the_spot_check_go_to_the_report(start, people):
    _only(Reason.RESIGNATION, Part.MATERIALS, Part.VISITS, Part.REPORT)
    h = advance_to(start(), State.VISITS_REVIEW)
    h = _approve(h, "approve_visits", h.supervisor)
    assert h.state == State.REPORT
    # The report is drafted from the figures, as after a spot-check.
    assert Report.objects.get(handover=h).summary.strip()


def test_the_parties_stay_independent_in_a_short_procedure(start, people):
    _only(Reason.RESIGNATION, Part.MATERIALS)
    with pytest.raises(services.InvalidInput):
        start(receiver=people.supervisor)
    assert not Handover.objects.exists()


# ---------------------------------------------------------------------------------------
# The page and the API show only the parts gone through


def test_the_page_shows_only_the_parts_gone_through(start, people):
    _only(Reason.RESIGNATION, Part.MATERIALS)
    h = start()
    cells = stage_cells(h, [])
    assert [c.key for c in cells] == ["plan", "materials", "report", "completed"]
    # The report stage without a report is the final approval.
    assert cells[2].label == str(Part.APPROVAL.label)
    assert [url.rsplit("/", 2)[-2] for _label, url in print_links(h, people.manager)] == ["plan", "materials"]
    tabs = [t.key for t in tab_links(h, "plan", 0)]
    assert "visits" not in tabs and "spot_check" not in tabs and "materials" in tabs and "report" in tabs
    # A tab of a part left out is not opened: the page falls back to the current stage's.
    browser = _login(people.departing)
    response = browser.get(reverse("handover:detail", args=[h.pk]) + "?tab=visits")
    assert response.status_code == 200
    assert response.context["page"].tab == "plan"
    # No calendar of joint visits that will not take place.
    assert response.context["visit_calendar"] is None


def _login(user):
    from django.test import Client as Browser

    browser = Browser()
    browser.force_login(user)
    return browser


def test_the_api_tells_the_parts_and_the_path(start, people):
    _only(Reason.RESIGNATION, Part.MATERIALS)
    h = start()
    data = _login(people.departing).get(f"/api/handovers/{h.pk}/").json()
    assert data["parts"] == SHORT
    assert data["path"][-1] == State.REPORT_APPROVAL and State.VISITS not in data["path"]


def test_no_calendar_invitation_for_a_handover_without_joint_visits(start, people):
    _only(Reason.RESIGNATION, Part.MATERIALS)
    h = start()
    hc = h.clients.first()
    hc.planned_visit_on, hc.prefilled = h.last_working_day, []
    assert _planned_day(h, hc) is None
    full = Handover(parts=list(flow.ALL_PARTS), state=State.PLAN)
    assert _planned_day(full, hc) == h.last_working_day


# ---------------------------------------------------------------------------------------
# What the admin refuses


@pytest.fixture
def superuser(db):
    return UserFactory(username="root", is_staff=True, is_superuser=True, department=None)


def test_the_admin_refuses_a_spot_check_without_the_joint_visits(superuser, login):
    variant = ProcedureVariant.objects.get(reason=Reason.RESIGNATION)
    response = login(superuser).post(
        reverse("admin:handover_procedurevariant_change", args=[variant.pk]),
        {
            "reason": Reason.RESIGNATION,
            "materials": "on",
            "spot_check": "on",
            "report": "on",
            "durations-TOTAL_FORMS": "0",
            "durations-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.non_field_errors()
    assert errors == [str(flow.parts_problem(["plan", "materials", "spot_check", "report", "approval"]))]
    assert "电话抽查" in errors[0]
    variant.refresh_from_db()
    assert variant.visits is True


def test_the_database_refuses_a_spot_check_without_the_joint_visits(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        ProcedureVariant.objects.filter(reason=Reason.RESIGNATION).update(visits=False, spot_check=True)


def test_the_admin_saves_a_variant_and_its_own_days(superuser, login):
    variant = ProcedureVariant.objects.get(reason=Reason.TRANSFER)
    response = login(superuser).post(
        reverse("admin:handover_procedurevariant_change", args=[variant.pk]),
        {
            "reason": Reason.TRANSFER,
            "materials": "on",
            "report": "on",
            "durations-TOTAL_FORMS": "1",
            "durations-INITIAL_FORMS": "0",
            "durations-0-state": State.MATERIALS,
            "durations-0-working_days": "5",
        },
    )
    assert response.status_code == 302
    variant.refresh_from_db()
    assert variant.parts == [Part.PLAN, Part.MATERIALS, Part.REPORT, Part.APPROVAL]
    assert variant.durations.get().working_days == 5


@pytest.mark.parametrize(
    "parts",
    [
        ["materials", "approval"],
        ["plan", "materials"],
        ["plan", "spot_check", "approval"],
        ["plan", "approval", "handshake"],
    ],
)
def test_no_handover_goes_without_the_plan_the_final_approval_or_the_visits_its_spot_check_needs(parts):
    assert flow.parts_problem(parts)


# ---------------------------------------------------------------------------------------
# The flow spec and the model agree for every variant


def _valid_variants():
    for kept in itertools.product([False, True], repeat=len(flow.OPTIONAL_PARTS)):
        parts = [*flow.REQUIRED_PARTS, *(p for p, k in zip(flow.OPTIONAL_PARTS, kept, strict=True) if k)]
        if not flow.parts_problem(parts):
            yield parts


def test_every_move_out_of_a_part_is_declared_for_every_variant():
    fsm = list(Handover._meta.get_field("state").get_all_transitions(Handover))
    variants = list(_valid_variants())
    assert len(variants) == 12
    for parts in variants:
        path = flow.path(parts)
        assert path[0] == State.PLAN and path[-1] == State.REPORT_APPROVAL
        for t in fsm:
            if t.source not in path or not hasattr(t.target, "func"):
                continue
            h = Handover(parts=parts, state=t.source)
            assert t.target.func(h) in t.target.allowed_states, (parts, t.name)
            assert t.target.func(h) in [*path, State.COMPLETED]


def test_dates_stay_within_the_last_working_day_whatever_the_variant(db):
    variant = _only(Reason.RESIGNATION, Part.MATERIALS)
    start_day = datetime.date(2026, 12, 1)
    due = services.stage_deadlines(start=start_day, last_working_day=datetime.date(2026, 12, 4), variant=variant)
    assert list(due) == flow.path(variant.parts)
    assert max(due.values()) == datetime.date(2026, 12, 4)


def test_a_plan_without_joint_visits_asks_no_planned_visit(start, people):
    _only(Reason.RESIGNATION, Part.MATERIALS)
    h = start()
    # Nothing planned for a visit that will not take place, not even as a guess to check.
    assert not h.clients.exclude(planned_visit_on=None).exists()
    for hc in h.clients.all():
        services.handover_client_update_plan(
            handover_client=hc,
            user=h.departing,
            current_status="合作正常",
            risks="无",
            next_steps="电话介绍代管人",
            planned_visit_on=None,
        )
    h = services.handover_transition(handover=h.pk, name="submit_plan", user=h.departing)
    assert h.state == State.PLAN_REVIEW


def test_a_plan_with_joint_visits_still_needs_each_planned_visit(start, people):
    h = start()
    hc = h.clients.first()
    h.clients.exclude(pk=hc.pk).update(prefilled=[], planned_visit_on=h.last_working_day)
    services.handover_client_update_plan(
        handover_client=hc,
        user=h.departing,
        current_status="合作正常",
        risks="无",
        next_steps="共同拜访",
        planned_visit_on=None,
    )
    with pytest.raises(services.InvalidInput):
        services.handover_transition(handover=h.pk, name="submit_plan", user=h.departing)
