"""Every read of a handover's client data writes one access-log row, a refused one included.

The URLs come from the URL configuration (test_after_completion.handover_urls): a URL under a
handover that answers GET is a read and must be in READS (or, reading no client data, in
UNLOGGED with why), so a new endpoint cannot go unlogged.
"""

from django.urls import reverse

from accounts.models import AccessLog
from accounts.tokens import api_token_create
from handover.models import Signature
from handover.tests.test_after_completion import _ask, completed, handover_urls  # noqa: F401 (a fixture)

Action = AccessLog.Action

READS = {
    "handover:detail": Action.VIEW_HANDOVER,
    "handover:plan_row": Action.VIEW_HANDOVER,
    "handover:item_dispute": Action.VIEW_HANDOVER,
    "handover:print_stage": Action.PRINT_HANDOVER,
    "handover:plan_download": Action.PRINT_HANDOVER,
    "handover:archive_download": Action.DOWNLOAD_ARCHIVE,
    "api:handover-detail": Action.API_HANDOVER,
    "api:handover-client": Action.API_HANDOVER,
    "api:plan-sheet": Action.API_HANDOVER,
    "api:item-list": Action.API_HANDOVER,
    "api:visit-list": Action.API_HANDOVER,
    "api:phone-check-list": Action.API_HANDOVER,
    "api:report": Action.API_HANDOVER,
    "api:handover-risks": Action.API_HANDOVER,
    "api:event-list": Action.API_HANDOVER,
    "api:signature-list": Action.API_HANDOVER,
    "api:archive-status": Action.API_HANDOVER,
    "api:receiver-list": Action.API_HANDOVER,
    "api:visit-sheet": Action.API_HANDOVER,
    "handover:visits_sheet": Action.VIEW_HANDOVER,
    "handover:receivers_bulk": Action.VIEW_HANDOVER,
    "handover:receiver_suggestions": Action.VIEW_HANDOVER,
    "api:receiver-suggestions": Action.API_HANDOVER,
    "handover:notice_letter": Action.PRINT_HANDOVER,
    "handover:notice_letters": Action.PRINT_HANDOVER,
    "api:notice-list": Action.API_HANDOVER,
    "api:notice-letter": Action.API_HANDOVER,
    "api:notice-letters": Action.API_HANDOVER,
    "handover:planned_visit_ics": Action.VIEW_HANDOVER,
    "handover:visit_ics": Action.VIEW_HANDOVER,
    "handover:visits_ics": Action.VIEW_HANDOVER,
    "api:planned-visit-calendar": Action.API_HANDOVER,
    "api:visit-calendar": Action.API_HANDOVER,
    "api:visits-calendar": Action.API_HANDOVER,
    "handover:outcomes": Action.VIEW_HANDOVER,
    "api:handover-outcomes": Action.API_HANDOVER,
    "api:handover-evaluation": Action.API_HANDOVER,
    "api:survey-list": Action.API_HANDOVER,
    "api:archive-download": Action.DOWNLOAD_ARCHIVE,
    "api:stage-print": Action.PRINT_HANDOVER,
}
# Reads that are a stage's working tools, refused once the stage is over: logged as refused.
# (The client notices' letters print for their senders only, never for HR.)
REFUSED_AFTER = {
    "api:visit-sheet",
    "handover:visits_sheet",
    "handover:receivers_bulk",
    "handover:receiver_suggestions",
    "api:receiver-suggestions",
    "handover:notice_letter",
    "handover:notice_letters",
    "api:notice-letter",
    "api:notice-letters",
}
# Reads of client data that are not under one handover: the duties after completion name their
# clients (and the due follow-ups), so they are logged as the client list is.
LIST_READS = {
    "handover:duties": Action.LIST_CLIENTS,
    "api:duty-list": Action.LIST_CLIENTS,
}
UNLOGGED = {
    # A party's drawn signature, shown beside their name on the handover page (itself logged).
    "handover:signature_image": "no client data",
    # How far the archived confirmation has got (its number, state and verification code).
    "handover:archive_status": "no client data",
}


def _logged(name: str) -> tuple[int, list[tuple]]:
    """What HR's GET of a read answers after completion, and the one access-log row it leaves."""
    refused = name in REFUSED_AFTER
    return (403 if refused else 200), [("hr", READS[name], refused)]


def _rows() -> list[tuple]:
    return list(AccessLog.objects.order_by("pk").values_list("user__username", "action", "refused", "detail"))


def _drawn(w):
    w.signature = Signature.objects.filter(handover=w.h).first()
    Signature.objects.filter(pk=w.signature.pk).update(method="drawn", image=b"\x89PNG\r\n\x1a\n")


def test_every_url_that_reads_a_handover_is_logged_once(completed, people, client):  # noqa: F811
    w = completed
    _drawn(w)
    wrong = []
    for name, params in handover_urls():
        AccessLog.objects.all().delete()
        # HR sees every handover and downloads the archive: every read answers HR.
        response = _ask(client, people.hr, name, w.url_kwargs(params), "get")
        rows = _rows()
        if response.status_code == 405 or name in UNLOGGED:
            # An action (POST only), or no client data: nothing read, nothing logged.
            if rows:
                wrong.append(f"{name}: {response.status_code} logged {rows}")
        elif name not in READS:
            wrong.append(f"{name} answers GET ({response.status_code}): add it to READS or UNLOGGED")
        elif (response.status_code, [r[:3] for r in rows]) != _logged(name):
            wrong.append(f"{name}: {response.status_code} logged {rows}")
        elif name not in REFUSED_AFTER and w.h.number not in rows[0][3]:
            wrong.append(f"{name}: the row does not name the handover: {rows}")
    assert wrong == []


def test_a_read_refused_to_a_stranger_is_logged_once_as_refused(completed, people, client):  # noqa: F811
    w = completed
    wrong = []
    for name, params in handover_urls():
        if name not in READS:
            continue
        AccessLog.objects.all().delete()
        kwargs = w.url_kwargs(params)
        response = _ask(client, people.other_sales, name, kwargs, "get")
        rows = _rows()
        # 404: not a party; the archive is HR's (403).
        if response.status_code not in (403, 404) or [r[:3] for r in rows] != [("other_sales", READS[name], True)]:
            wrong.append(f"{name}: {response.status_code} logged {rows}")
        elif str(w.h.pk) not in rows[0][3]:
            wrong.append(f"{name}: the row does not say what was asked for: {rows}")
    assert wrong == []


def test_the_departing_person_after_completion_is_logged_refused_except_for_the_summary(
    completed,  # noqa: F811
    people,
    client,
):
    w = completed
    wrong = []
    for name, params in handover_urls():
        if name not in READS:
            continue
        AccessLog.objects.all().delete()
        response = _ask(client, people.departing, name, w.url_kwargs(params), "get")
        rows = _rows()
        summary = name == "handover:detail"
        expected = [("departing", READS[name], not summary)]
        if response.status_code != (200 if summary else 403) or [r[:3] for r in rows] != expected:
            wrong.append(f"{name}: {response.status_code} logged {rows}")
    assert wrong == []
    AccessLog.objects.all().delete()
    _ask(client, people.departing, "handover:detail", {"pk": w.h.pk}, "get")
    assert "summary" in _rows()[0][3]


def test_an_action_writes_no_access_row(completed, people, client):  # noqa: F811
    # A POST is traced on the handover's timeline, not here; only reads are logged.
    w = completed
    response = _ask(client, people.hr, "handover:revoke_access", {"pk": w.h.pk}, "post")
    assert response.status_code == 302
    assert _rows() == []


def test_the_duty_lists_are_logged_once_with_their_filters(completed, people, client):  # noqa: F811
    wrong = []
    for name, action in LIST_READS.items():
        for who in ("receiver", "hr", "other_sales"):
            AccessLog.objects.all().delete()
            query = "?late=1" if name.startswith("handover:") else "?late=true"
            token = api_token_create(user=getattr(people, who))[0] if name.startswith("api:") else None
            if token is None:
                client.force_login(getattr(people, who))
            url = reverse(name) + query
            headers = {"HTTP_AUTHORIZATION": f"Token {token}"} if token else {}
            response = client.get(url, **headers)
            rows = _rows()
            if response.status_code != 200 or [r[:3] for r in rows] != [(who, action, False)]:
                wrong.append(f"{name} by {who}: {response.status_code} logged {rows}")
            elif rows[0][3] != url:
                wrong.append(f"{name} by {who}: the row does not say what was listed: {rows}")
    assert wrong == []


def test_a_duty_list_refused_for_its_filter_is_logged_too(completed, people, client):  # noqa: F811
    token = api_token_create(user=people.receiver)[0]
    response = client.get(reverse("api:duty-list") + "?late=maybe", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 400
    assert [r[:3] for r in _rows()] == [("receiver", Action.LIST_CLIENTS, False)]


def test_an_anonymous_duty_list_reads_nothing_and_logs_nothing(completed, client):  # noqa: F811
    assert client.get(reverse("api:duty-list")).status_code == 401
    assert client.get(reverse("handover:duties")).status_code == 302
    assert _rows() == []
