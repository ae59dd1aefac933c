"""After completion the departing person's access to the handover's clients ends.

They keep the handover's header (selectors.handover_summary): the list lists it and its page
shows the number, reason, state, dates, the parties' names, the number of clients and their
own signatures. Every other URL under the handover answers 403, on the pages and the API.
The URLs come from the URL configuration itself, so a new endpoint cannot slip through.
The other parties keep reading everything; a cancelled handover stays readable by the
departing person, who still owns its clients.
"""

import datetime

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from accounts.roles import Role
from accounts.tokens import api_token_create
from clients.models import Contract
from handover import services
from handover.models import ArchivedDocument, Handover, Signature, State, Visit
from tests.walk import advance_to

REPORT_TEXT = "全部客户已完成交接"  # the walk's report summary (demo/walk.py)
VISIT_TEXT = "已当面介绍新对接人"  # the walk's visit outcome (demo/walk.py)


def _walk(resolver: URLResolver, prefix: str = ""):
    for p in resolver.url_patterns:
        if isinstance(p, URLResolver):
            namespace = f"{prefix}{p.namespace}:" if p.namespace else prefix
            if namespace != "admin:":
                yield from _walk(p, namespace)
        elif isinstance(p, URLPattern) and p.name:
            yield f"{prefix}{p.name}", sorted(p.pattern.converters)


def handover_urls() -> list[tuple[str, list[str]]]:
    """Every URL of one handover: the handover's and the API's URLs that take its pk."""
    return sorted(
        (name, params)
        for name, params in _walk(get_resolver())
        if name.split(":")[0] in ("handover", "api") and "pk" in params
    )


def _kwargs(w, params: list[str]) -> dict:
    values = {
        "pk": w.h.pk,
        "hc_pk": w.hc.pk,
        "hc_id": w.hc.pk,
        "item_pk": w.item.pk,
        "item_id": w.item.pk,
        "visit_pk": w.visit.pk,
        "visit_id": w.visit.pk,
        "signature_pk": w.signature.pk,
        "name": "cancel",
        "purpose": "checklist",
        "stage": "plan",
    }
    unknown = set(params) - values.keys()
    assert not unknown, f"a new URL parameter {unknown}: give it a value in _kwargs"
    return {p: values[p] for p in params}


class World:
    def __init__(self, h: Handover, book):
        self.h = h
        self.hc = h.clients.first()
        self.item = h.items.first()
        self.visit = Visit.objects.filter(handover_client__handover=h).first()
        self.signature = Signature.objects.filter(handover=h).first()
        self.url_kwargs = lambda params: _kwargs(self, params)
        contracts = Contract.objects.filter(client__in=book)
        # What the departing person must no longer read: names, contract numbers, the report, the visits.
        self.secrets = [c.name for c in book] + [c.number for c in contracts] + [REPORT_TEXT, VISIT_TEXT]


@pytest.fixture
def completed(start, book, people, sealed):
    # A transfer: the departing person's account lives on after completion, so nothing else stops them.
    h = advance_to(start(reason="transfer"), State.COMPLETED)
    ArchivedDocument.objects.create(
        handover=h, file=ContentFile(b"%PDF-1.7 archived", name=f"{h.number}.pdf"), sha256="0" * 64, size=17
    )
    return World(Handover.objects.get(pk=h.pk), book)


@pytest.fixture
def cancelled(start, book, people):
    h = advance_to(start(), State.VISITS_REVIEW)  # visits recorded, materials receipts signed
    h = services.handover_transition(handover=h, name="cancel", user=people.hr, comment="离职申请撤回")
    return World(h, book)


def _ask(client, user, name: str, kwargs: dict, method: str):
    url = reverse(name, kwargs=kwargs)
    if name.startswith("api:"):
        token = api_token_create(user=user)[0]
        return getattr(client, method)(
            url, data={}, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}"
        )
    client.force_login(user)
    return getattr(client, method)(url)


def _body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def _methods(name: str) -> list[str]:
    return ["get", "post", "put", "patch"] if name.startswith("api:") else ["get", "post"]


def test_the_sweep_covers_the_handover_urls():
    names = {name for name, _params in handover_urls()}
    # A sample that must be there: if the URL conf walk broke, the sweep would test nothing.
    assert {
        "handover:detail",
        "handover:print_stage",
        "handover:archive_download",
        "handover:signature_image",
        "api:handover-detail",
        "api:item-list",
        "api:visit-list",
        "api:report",
        "api:signature-list",
        "handover:outcomes",
        "api:handover-outcomes",
        "handover:evaluate",
        "api:handover-evaluation",
    } <= names


@pytest.mark.parametrize("also", [None, Role.HR, Role.MANAGER], ids=["sales", "also-hr", "also-manager"])
def test_after_completion_the_departing_person_reads_only_the_header(completed, people, client, also):
    w = completed
    departing = people.departing
    if also:
        # A small company: the departing person holds another role too, which changes nothing here.
        departing.groups.add(Group.objects.get(name=also))
    wrong = []
    for name, params in handover_urls():
        for method in _methods(name):
            response = _ask(client, departing, name, w.url_kwargs(params), method)
            body = _body(response)
            expected = (200,) if (name, method) == ("handover:detail", "get") else (403, 405)
            if response.status_code not in expected:
                wrong.append(f"{method.upper()} {name}: {response.status_code}")
            leaked = [s for s in w.secrets if s in body]
            if leaked:
                wrong.append(f"{method.upper()} {name}: shows {leaked[:3]}")
    assert wrong == []
    assert Handover.objects.get(pk=w.h.pk).state == State.COMPLETED


def test_the_departing_persons_summary_of_a_completed_handover(completed, people, login):
    w = completed
    browser = login(people.departing)

    page = browser.get(reverse("handover:detail", args=[w.h.pk])).content.decode()

    assert 'id="handover-summary"' in page and 'id="client-data-withheld"' in page
    assert w.h.number in page and w.h.get_state_display() in page and w.h.get_reason_display() in page
    for person in (people.departing, people.receiver, people.supervisor, people.witness, people.manager):
        assert person.full_name in page
    assert '<dd class="col-sm-4" id="summary-clients">10</dd>' in page
    # Their own checklist signature, and that it still holds; nobody else's.
    assert page.count('class="own-signature"') == 1 and 'data-valid="true"' in page
    assert not [s for s in w.secrets if s in page]
    assert "print-link" not in page and "archive-link" not in page
    # The lists still list it, on the pages and the API.
    assert w.h.number in browser.get(reverse("handover:list")).content.decode()
    token = api_token_create(user=people.departing)[0]
    listed = browser.get(reverse("api:handover-list"), HTTP_AUTHORIZATION=f"Token {token}").json()
    assert [h["number"] for h in listed["results"]] == [w.h.number]


# Pages that are a stage's working tools (the receivers-in-bulk page at the plan, the visit record's
# sheet at the visits): refused once that stage is over, like their actions.
WORK_PAGES = {
    "handover:receivers_bulk",
    "handover:visits_sheet",
    "api:visit-sheet",
    "handover:receiver_suggestions",
    "api:receiver-suggestions",
}
# The client notices' letters (and their API): for their senders only, the client's receiver and
# the supervisor (the departing person too, until completion).
NOTICE_LETTERS = {"handover:notice_letter", "handover:notice_letters", "api:notice-letter", "api:notice-letters"}


@pytest.mark.parametrize("who", ["receiver", "supervisor", "witness", "manager", "hr"])
def test_after_completion_the_other_parties_still_read_everything(completed, people, client, who):
    w = completed
    user = getattr(people, who)
    # A drawn signature, so the signature image has something to show.
    w.signature = Signature.objects.filter(handover=w.h).first()
    Signature.objects.filter(pk=w.signature.pk).update(method="drawn", image=b"\x89PNG\r\n\x1a\n")
    archivist = who == "hr"
    wrong = []
    for name, params in handover_urls():
        response = _ask(client, user, name, w.url_kwargs(params), "get")
        # The archive is HR's; 405: an action, nothing to read.
        archives = {
            "handover:archive_download",
            "handover:archive_status",
            "api:archive-status",
            "api:archive-download",
        }
        if name in WORK_PAGES:
            # The tools of a stage that is over; the visit record's sheet stays the receiver's to read.
            expected = {200} if who == "receiver" and "sheet" in name else {403}
        elif name in NOTICE_LETTERS:
            expected = {200} if who in ("receiver", "supervisor") else {403}
        else:
            expected = {403} if name in archives and not archivist else {200, 405}
        if response.status_code not in expected:
            wrong.append(f"GET {name}: {response.status_code}")
    assert wrong == []
    # Every tab of the workspace reads.
    page = "".join(
        client.get(reverse("handover:detail", args=[w.h.pk]) + f"?tab={tab}").content.decode()
        for tab in ("plan", "visits", "report")
    )
    assert w.secrets[0] in page and REPORT_TEXT in page and VISIT_TEXT in page
    detail = _ask(client, user, "api:handover-detail", {"pk": w.h.pk}, "get").json()
    assert w.secrets[0] in {c["client"]["name"] for c in detail["clients"]}


def test_a_cancelled_handover_stays_readable_by_the_departing_person(cancelled, people, client):
    # The clients never left them: their handover, cancelled, is still theirs to read.
    w = cancelled
    wrong = []
    for name, params in handover_urls():
        response = _ask(client, people.departing, name, w.url_kwargs(params), "get")
        if name in ("handover:print_stage", "api:stage-print"):
            expected = {403}  # the departing person prints nothing, cancelled or not (the export rule)
        elif name in ("handover:plan_download", "api:plan-sheet"):
            expected = {403}  # nor downloads the plan, but to fill it in while it is open
        elif name in (
            "handover:archive_download",
            "handover:archive_status",
            "api:archive-status",
            "api:archive-download",
        ):
            expected = {403}  # HR's
        elif name == "handover:signature_image":
            expected = {404}  # typed signatures: no image
        elif name in WORK_PAGES:
            expected = {403}  # the tools of a stage that is over
        elif name in NOTICE_LETTERS:
            # No client notice in a cancelled handover: back to the page with why, or the API's 409.
            expected = {409} if name.startswith("api:") else {302}
        else:
            expected = {200, 405}
        if response.status_code not in expected:
            wrong.append(f"GET {name}: {response.status_code}")
    assert wrong == []
    client.force_login(people.departing)
    page = client.get(reverse("handover:detail", args=[w.h.pk]) + "?tab=plan").content.decode()
    assert w.secrets[0] in page and 'id="handover-summary"' not in page


def test_before_completion_the_departing_person_reads_their_handover(start, book, people, login):
    h = advance_to(start(reason="transfer"), State.REPORT_APPROVAL)
    browser = login(people.departing)
    page = "".join(
        browser.get(reverse("handover:detail", args=[h.pk]) + f"?tab={tab}").content.decode()
        for tab in ("plan", "report")
    )
    assert book[0].name in page and REPORT_TEXT in page


def test_the_policy_holds_for_a_resignation_too(start, book, people, login):
    today = timezone.localdate()
    h = advance_to(start(last_working_day=today + datetime.timedelta(days=20)), State.COMPLETED)
    browser = login(people.departing)
    assert book[0].name not in browser.get(reverse("handover:detail", args=[h.pk])).content.decode()
    assert browser.get(reverse("handover:item_dispute", args=[h.pk, h.items.first().pk])).status_code == 403
