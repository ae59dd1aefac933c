"""The joint visits in both salespeople's calendars: invitations by email, updates, cancellations, downloads."""

import datetime
import io
import threading

import icalendar
import openpyxl
import pytest
from django.core import mail
from django.urls import reverse

from accounts.tokens import api_token_create
from handover import services, tasks
from handover.models import InvitationDelivery, InvitationKind, InvitationStatus, State, VisitInvitation, VisitMode
from handover.services import PlanRow, invitations
from handover.services.plan_sheet import PLAN_SHEET
from tests.walk import advance_to

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _emails(people):
    for user in (people.departing, people.receiver):
        user.email = f"{user.username}@example.com"
        user.save(update_fields=["email"])


@pytest.fixture
def to2(receiver2):
    receiver2.email = "receiver2@example.com"
    receiver2.save(update_fields=["email"])
    return receiver2


@pytest.fixture
def commit(django_capture_on_commit_callbacks):
    """Run a change as if committed: what it queues after the commit runs (Celery is eager here)."""

    def _run(fn, *args, **kwargs):
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return _run


def _hc(h):
    return h.clients.select_related("client", "receiver").order_by("pk").first()


def _save_day(h, hc, user, day=None, *, clear=False, **extra):
    row = PlanRow(hc.pk, planned_visit_on=day, clear_planned_visit=clear, **extra)
    return services.plan_save_rows(handover=h, user=user, rows=[row])


def _planned(hc) -> VisitInvitation:
    return VisitInvitation.objects.get(handover_client=hc, kind=InvitationKind.PLANNED)


def _calendar_of(message) -> tuple[str, icalendar.Calendar]:
    """The inline text/calendar alternative of an email: (its content type, the parsed calendar)."""
    (content, mimetype) = next((a[0], a[1]) for a in message.alternatives if a[1].startswith("text/calendar"))
    return mimetype, icalendar.Calendar.from_ical(content)


def _event(cal: icalendar.Calendar) -> icalendar.Event:
    (event,) = cal.walk("VEVENT")
    return event


def _attendees(event) -> set[str]:
    found = event.get("attendee")
    found = found if isinstance(found, list) else [found]
    return {str(a).removeprefix("mailto:") for a in found}


def test_a_prefilled_date_is_not_sent_until_the_departing_person_confirms_it(handover, people, commit):
    hc = _hc(handover)
    assert hc.planned_visit_on and "planned_visit_on" in hc.prefilled
    assert not VisitInvitation.objects.exists()
    # Saving the row as it stands confirms the prefilled plan: the date goes out now.
    commit(_save_day, handover, hc, people.departing)
    inv = _planned(hc)
    assert (inv.sequence, inv.status, inv.day) == (0, InvitationStatus.ACTIVE, hc.planned_visit_on)
    assert sorted(m.to[0] for m in mail.outbox) == sorted([people.departing.email, people.receiver.email])
    mimetype, cal = _calendar_of(mail.outbox[0])
    assert mimetype.startswith("text/calendar") and "REQUEST" in mimetype
    assert cal["method"] == "REQUEST"
    event = _event(cal)
    assert event["uid"] == inv.uid and event["sequence"] == 0
    assert event.decoded("dtstart") == hc.planned_visit_on  # an all-day event, the day itself
    assert _attendees(event) == {people.departing.email, people.receiver.email}
    assert str(event["summary"]) == f"联合拜访：{hc.client.name}（{people.departing}→{people.receiver}）".replace(
        "→", " → "
    )
    assert mail.outbox[0].attachments[0][0] == "invite.ics"


def test_a_changed_date_sends_an_update_with_the_same_uid_and_a_higher_sequence(handover, people, commit):
    hc = _hc(handover)
    commit(_save_day, handover, hc, people.departing)
    uid = _planned(hc).uid
    new_day = handover.last_working_day - datetime.timedelta(days=1)
    commit(_save_day, handover, hc, people.departing, new_day)
    inv = _planned(hc)
    assert (inv.uid, inv.sequence, inv.day) == (uid, 1, new_day)
    assert len(mail.outbox) == 2 and all(m.subject.startswith("已更新") for m in mail.outbox)
    event = _event(_calendar_of(mail.outbox[0])[1])
    assert (event["uid"], event["sequence"], event.decoded("dtstart")) == (uid, 1, new_day)


def test_no_email_when_the_date_did_not_change(handover, people, commit):
    hc = _hc(handover)
    commit(_save_day, handover, hc, people.departing)
    commit(_save_day, handover, hc, people.departing, hc.planned_visit_on, risks="竞争对手接触")
    commit(
        services.handover_client_update_plan,
        handover_client=hc,
        user=people.departing,
        current_status="正常",
        risks="无",
        next_steps="拜访",
        planned_visit_on=hc.planned_visit_on,
    )
    assert mail.outbox == []
    assert _planned(hc).sequence == 0 and InvitationDelivery.objects.count() == 2


def test_a_cleared_date_sends_a_cancellation(handover, people, commit):
    hc = _hc(handover)
    commit(_save_day, handover, hc, people.departing)
    commit(_save_day, handover, hc, people.departing, clear=True)
    inv = _planned(hc)
    assert (inv.status, inv.sequence) == (InvitationStatus.CANCELLED, 1)
    assert len(mail.outbox) == 2
    mimetype, cal = _calendar_of(mail.outbox[0])
    assert "CANCEL" in mimetype and cal["method"] == "CANCEL"
    assert _event(cal)["status"] == "CANCELLED" and _event(cal)["uid"] == inv.uid
    # Planned again: the same event comes back, newer still.
    commit(_save_day, handover, hc, people.departing, handover.last_working_day)
    inv.refresh_from_db()
    assert (inv.status, inv.sequence) == (InvitationStatus.ACTIVE, 2)


def test_a_new_receiver_is_invited_and_the_old_one_told_it_is_off(handover, people, to2, commit):
    receiver2 = to2
    hc = _hc(handover)
    commit(_save_day, handover, hc, people.departing)
    commit(services.handover_client_set_receiver, handover_client=hc, user=people.supervisor, receiver=receiver2)
    by_person = {m.to[0]: _calendar_of(m)[1]["method"] for m in mail.outbox}
    assert by_person == {people.receiver.email: "CANCEL", receiver2.email: "REQUEST", people.departing.email: "REQUEST"}
    cancel = next(m for m in mail.outbox if m.to == [people.receiver.email])
    assert _attendees(_event(_calendar_of(cancel)[1])) == {people.receiver.email}
    inv = _planned(hc)
    assert inv.receiver == receiver2 and inv.sequence == 1


def test_the_excel_upload_sends_the_changed_dates_only(handover, people, commit):
    hcs = list(handover.clients.order_by("pk"))
    commit(services.plan_save_rows, handover=handover, user=people.departing, rows=[PlanRow(hc.pk) for hc in hcs])
    assert len(mail.outbox) == 2 * len(hcs)
    workbook = openpyxl.load_workbook(io.BytesIO(services.plan_workbook(handover)))
    sheet = workbook[PLAN_SHEET.title]
    headers = [c.header for c in PLAN_SHEET.columns]
    new_day = handover.last_working_day
    for row in range(2, sheet.max_row + 1):
        if sheet.cell(row=row, column=headers.index("行编号") + 1).value == hcs[0].pk:
            sheet.cell(row=row, column=headers.index("计划拜访日期") + 1).value = new_day
    buffer = io.BytesIO()
    workbook.save(buffer)
    commit(
        services.plan_sheet_upload,
        handover=handover,
        user=people.departing,
        data=buffer.getvalue(),
        filename="plan.xlsx",
    )
    assert len(mail.outbox) == 2
    assert _planned(hcs[0]).day == new_day and _planned(hcs[0]).sequence == 1
    assert all(_planned(hc).sequence == 0 for hc in hcs[1:])


def test_a_recorded_visit_is_sent_to_both_and_a_dropped_client_cancelled(handover, people, commit):
    h = advance_to(handover, State.VISITS)
    hc = _hc(h)
    visit = commit(
        services.visit_record,
        handover_client=hc,
        user=people.receiver,
        visited_on=datetime.date.today(),
        mode=VisitMode.IN_PERSON,
        contact_met="采购经理",
        outcome="已介绍新对接人",
    )
    inv = VisitInvitation.objects.get(visit=visit)
    assert inv.kind == InvitationKind.RECORDED and inv.day == visit.visited_on
    # (The walk's plan left its invitations owed: this commit sent those too.)
    recorded = [m for m in mail.outbox if _event(_calendar_of(m)[1])["uid"] == inv.uid]
    assert sorted(m.to[0] for m in recorded) == sorted([people.departing.email, people.receiver.email])
    assert services.pending_invitation_ids() == []
    # The client leaves the book and the handover: both its events come off both calendars.
    hc.client.owner = people.other_sales
    hc.client.save(update_fields=["owner"])
    commit(services.handover_client_drop, handover_client=hc, user=people.supervisor, reason="客户已转出")
    cancelled = VisitInvitation.objects.filter(handover=h, client_name=hc.client.name)
    assert {i.status for i in cancelled} == {InvitationStatus.CANCELLED}
    assert cancelled.count() == 2
    assert {_calendar_of(m)[1]["method"] for m in mail.outbox} == {"CANCEL"} and len(mail.outbox) == 4


def test_a_cancelled_handover_cancels_every_visit(handover, people, commit):
    commit(
        services.plan_save_rows,
        handover=handover,
        user=people.departing,
        rows=[PlanRow(hc.pk) for hc in handover.clients.all()],
    )
    commit(services.handover_transition, handover=handover, name="cancel", user=people.hr, comment="撤回")
    assert set(VisitInvitation.objects.values_list("status", flat=True)) == {InvitationStatus.CANCELLED}
    assert mail.outbox and all("CANCEL" in _calendar_of(m)[0] for m in mail.outbox if m.alternatives)


def test_a_delivery_is_sent_once_even_if_the_task_runs_twice(handover, people, commit):
    hc = _hc(handover)
    commit(_save_day, handover, hc, people.departing)
    delivery = InvitationDelivery.objects.filter(recipient=people.receiver).get()
    assert delivery.sent_at is not None
    mail.outbox.clear()
    tasks.deliver_invitation.apply(args=[delivery.pk])
    tasks.deliver_invitation.apply(args=[delivery.pk])
    assert mail.outbox == []
    InvitationDelivery.objects.filter(pk=delivery.pk).update(sent_at=None)
    tasks.deliver_invitation.apply(args=[delivery.pk])
    tasks.deliver_invitation.apply(args=[delivery.pk])
    assert len(mail.outbox) == 1


def test_a_failed_send_is_retried_and_sent_once(handover, people, commit, monkeypatch):
    real = invitations._send
    calls = {"n": 0}

    def flaky(d):
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("SMTP down")
        real(d)

    monkeypatch.setattr(invitations, "_send", flaky)
    hc = _hc(handover)
    commit(_save_day, handover, hc, people.departing)
    rows = list(InvitationDelivery.objects.order_by("pk"))
    assert all(d.sent_at is not None for d in rows)
    assert [d.attempts for d in rows] == [2, 1]  # the first failed once, then went
    assert len(mail.outbox) == 2


def test_a_broker_outage_loses_nothing_the_scan_sends_it_later(handover, people, commit, monkeypatch):
    def broker_down(pk):
        raise ConnectionError("broker down")

    monkeypatch.setattr(invitations, "_broker_eager", [lambda: False])  # a broker, and it is down
    monkeypatch.setattr(invitations, "_delivery_queue", [broker_down])
    hc = _hc(handover)
    commit(_save_day, handover, hc, people.departing)  # the request still succeeds
    assert mail.outbox == [] and len(services.pending_invitation_ids()) == 2
    monkeypatch.setattr(invitations, "_delivery_queue", [lambda pk: tasks.deliver_invitation.delay(pk)])
    assert tasks.scan_reminders()["invitations_queued"] == 2
    assert len(mail.outbox) == 2 and services.pending_invitation_ids() == []
    assert tasks.scan_reminders()["invitations_queued"] == 0


def test_a_send_that_keeps_failing_stops_at_the_limit_and_keeps_the_row(handover, people, commit, monkeypatch):
    def broken(d):
        raise OSError("SMTP down")

    monkeypatch.setattr(invitations, "_send", broken)
    commit(_save_day, handover, _hc(handover), people.departing)
    assert set(InvitationDelivery.objects.values_list("attempts", "sent_at")) == {(invitations.MAX_ATTEMPTS, None)}
    assert services.pending_invitation_ids() == []


# ---------------------------------------------------------------------------------------
# Downloads


def _parse(response) -> icalendar.Calendar:
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"].startswith("text/calendar")
    assert ".ics" in response["Content-Disposition"]
    return icalendar.Calendar.from_ical(response.content)


def test_the_planned_visit_downloads_with_the_invitations_uid_and_sequence(handover, people, login, commit):
    hc = _hc(handover)
    commit(_save_day, handover, hc, people.departing)
    commit(_save_day, handover, hc, people.departing, handover.last_working_day)
    cal = _parse(login(people.receiver).get(reverse("handover:planned_visit_ics", args=[handover.pk, hc.pk])))
    event = _event(cal)
    assert cal["method"] == "PUBLISH"
    assert (event["uid"], event["sequence"]) == (_planned(hc).uid, 1)
    assert event.decoded("dtstart") == handover.last_working_day
    assert event.decoded("dtend") == handover.last_working_day + datetime.timedelta(days=1)
    assert _attendees(event) == {people.departing.email, people.receiver.email}
    if hc.client.address:
        assert str(event["location"]) == hc.client.address


def test_a_receiver_downloads_their_own_clients_visits_the_departing_person_all(
    handover, people, receiver2, login, commit
):
    hcs = list(handover.clients.order_by("pk"))
    commit(services.handover_client_set_receiver, handover_client=hcs[0], user=people.supervisor, receiver=receiver2)
    url = reverse("handover:visits_ics", args=[handover.pk])
    mine = _parse(login(receiver2).get(url)).walk("VEVENT")
    assert [e["uid"] for e in mine] == [invitations.uid_for(handover_client_id=hcs[0].pk)]
    everyone = _parse(login(people.departing).get(url)).walk("VEVENT")
    assert len(everyone) == len(hcs)


def test_an_outsider_is_refused_the_downloads(handover, people, login):
    hc = _hc(handover)
    browser = login(people.other_sales)
    for url in (
        reverse("handover:planned_visit_ics", args=[handover.pk, hc.pk]),
        reverse("handover:visits_ics", args=[handover.pk]),
    ):
        assert browser.get(url).status_code == 404
    token = api_token_create(user=people.other_sales)[0]
    api = reverse("api:visits-calendar", args=[handover.pk])
    assert login(people.other_sales).get(api, HTTP_AUTHORIZATION=f"Token {token}").status_code == 404


def test_a_client_without_a_planned_date_has_nothing_to_download(handover, people, login, commit):
    hc = _hc(handover)
    commit(_save_day, handover, hc, people.departing, clear=True)
    assert (
        login(people.departing).get(reverse("handover:planned_visit_ics", args=[handover.pk, hc.pk])).status_code == 404
    )


def test_the_api_downloads_the_same_events(handover, people, client, commit):
    h = advance_to(handover, State.VISITS)
    visit = commit(
        services.visit_record,
        handover_client=_hc(h),
        user=people.departing,
        visited_on=datetime.date.today(),
        mode=VisitMode.IN_PERSON,
        contact_met="采购经理",
        outcome="已介绍新对接人",
    )
    token = api_token_create(user=people.receiver)[0]
    response = client.get(reverse("api:visit-calendar", args=[h.pk, visit.pk]), HTTP_AUTHORIZATION=f"Token {token}")
    event = _event(_parse(response))
    assert event["uid"] == VisitInvitation.objects.get(visit=visit).uid
    assert event.decoded("dtstart") == visit.visited_on


def test_the_plan_and_visits_tabs_link_the_calendar(handover, people, login):
    browser = login(people.departing)
    page = browser.get(reverse("handover:detail", args=[handover.pk]) + "?tab=plan").content.decode()
    assert reverse("handover:visits_ics", args=[handover.pk]) in page
    # The plan's grid stays light: each visit's own event is on the visits tab.
    assert reverse("handover:planned_visit_ics", args=[handover.pk, _hc(handover).pk]) not in page
    h = advance_to(handover, State.VISITS)
    planned = h.clients.exclude(planned_visit_on=None).first()
    page = browser.get(reverse("handover:detail", args=[h.pk]) + "?tab=visits").content.decode()
    assert reverse("handover:visits_ics", args=[h.pk]) in page
    assert reverse("handover:planned_visit_ics", args=[h.pk, planned.pk]) in page


def test_the_visits_tab_links_each_recorded_visit(handover, people, login):
    h = advance_to(handover, State.VISITS_REVIEW)
    visit = h.clients.first().visits.first()
    page = login(people.receiver).get(reverse("handover:detail", args=[h.pk]) + "?tab=visits").content.decode()
    assert reverse("handover:visit_ics", args=[h.pk, visit.pk]) in page


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_with_no_broker_a_thread_sends_them_and_the_request_does_not_wait(start, people, monkeypatch):
    # Celery is eager here (no broker): the invitations go from this process's thread, not the caller.
    assert invitations._broker_eager[0]()
    monkeypatch.setattr(invitations, "_run_in_process", [invitations.in_process.submit_all])  # the real thread
    handover = start()
    hc = _hc(handover)
    caller = []
    real = invitations._send
    monkeypatch.setattr(invitations, "_send", lambda d: caller.append(threading.current_thread().name) or real(d))
    mail.outbox.clear()
    _save_day(handover, hc, people.departing)
    assert invitations.in_process.wait(30)
    assert caller == ["visit-invitations", "visit-invitations"]
    assert sorted(m.to[0] for m in mail.outbox) == sorted([people.departing.email, people.receiver.email])
    assert services.pending_invitation_ids() == []


def test_the_uid_stays_when_the_company_mailbox_changes(handover, people, login, commit, settings):
    hc = _hc(handover)
    commit(_save_day, handover, hc, people.departing)
    uid = _planned(hc).uid
    settings.DEFAULT_FROM_EMAIL = "交接系统 <crm@new-domain.example>"
    commit(_save_day, handover, hc, people.departing, handover.last_working_day)
    event = _event(_calendar_of(mail.outbox[0])[1])
    assert event["uid"] == uid and "crm@new-domain.example" in str(event["organizer"])
    download = login(people.departing).get(reverse("handover:planned_visit_ics", args=[handover.pk, hc.pk]))
    assert _event(_parse(download))["uid"] == uid


def test_receivers_given_in_bulk_move_the_confirmed_visits(handover, people, to2, commit):
    hcs = list(handover.clients.order_by("pk"))
    commit(services.plan_save_rows, handover=handover, user=people.departing, rows=[PlanRow(hcs[0].pk)])
    commit(
        services.receivers_set,
        handover=handover,
        user=people.supervisor,
        receiver=to2,
        pick=services.RowPick(ids=[hc.pk for hc in hcs[:2]]),
    )
    # Only the confirmed date was in calendars: the old receiver loses it, the new one gets it.
    assert sorted((m.to[0], _calendar_of(m)[1]["method"]) for m in mail.outbox) == sorted(
        [(people.receiver.email, "CANCEL"), (to2.email, "REQUEST"), (people.departing.email, "REQUEST")]
    )
    assert not VisitInvitation.objects.filter(handover_client=hcs[1]).exists()
