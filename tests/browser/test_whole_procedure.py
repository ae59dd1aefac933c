"""The whole procedure in a real browser, through the pages only, as the people involved.

HR starts the handover; the departing salesperson plans, the supervisor sends the plan back
once and then signs it off, the manager approves; materials are handed over, one is
disputed and handed over again, the receiver confirms and signs the receipt; both record
and confirm the joint visits; the witness makes the spot-check calls; the report is
written, reviewed, the three parties sign the checklist and the manager gives the final
signed approval; HR downloads the sealed confirmation. Signatures are drawn with the mouse
on the signature pad (some typed). Elements are found by ids, names and data attributes,
never by the (Chinese) wording; what each person sees is checked by its data.
"""

import datetime
import itertools
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.utils import timezone

from clients.models import Client, Contract
from clients.tests.factories import (
    ClientFactory,
    ContactFactory,
    ContractFactory,
    OpportunityFactory,
    ReceivableFactory,
)
from handover.models import ChecklistTemplateItem, Duty, Handover, HandoverClient, ItemKind, State
from handover.tests.conftest import poppler
from tests.browser.conftest import watch_csp

pytestmark = [pytest.mark.slow, pytest.mark.browser]

RETURN_REASON = "请补充华东精密机械的续约风险：合同年底到期，竞争对手已报价。"
FIXED_RISKS = "合同年底到期，竞争对手已报价；需在12月前完成续约谈判。"
DISPUTE_REASON = "合同原件不在档案室，只收到了复印件。"
DISPUTE_REPLY = "原件已从法务部调回，请查收。"
REPORT_SUMMARY = "四家客户全部完成交接，A类客户已共同上门拜访，电话抽查均确认。"


@dataclass
class Book:
    """The departing salesperson's clients, A first."""

    clients: list[Client]
    a_contract: Contract
    contact: dict[int, str]  # whom the joint visit meets, by client id

    @property
    def a_client(self) -> Client:
        return self.clients[0]

    @property
    def a_contract_title(self) -> str:
        # The checklist item's title (the receivable's title names the contract's number too).
        return f"{self.a_contract.number} {self.a_contract.name}"


@pytest.fixture
def book_of_four(people) -> Book:
    a = ClientFactory(owner=people.departing, grade="A", name="华东精密机械有限公司")
    ContactFactory(client=a, name="周采购", position="采购总监")
    ContactFactory(client=a, name="吴工", position="技术负责人")
    a_contract = ContractFactory(client=a, number="HT-2026-A0001", name="数控机床年度框架合同")
    ReceivableFactory(contract=a_contract)
    OpportunityFactory(client=a, name="二期产线扩容项目")
    others, contact = [], {a.pk: "周采购"}
    for name, grade in [("苏州恒通电子有限公司", "B"), ("杭州云帆贸易有限公司", "B"), ("宁波海鸥包装有限公司", "C")]:
        c = ClientFactory(owner=people.departing, grade=grade, name=name)
        contact[c.pk] = ContactFactory(client=c).name
        others.append(c)
    ContractFactory(client=others[0], number="HT-2026-B0001", name="电子元器件供货合同")
    ChecklistTemplateItem.objects.create(
        kind=ItemKind.PROPERTY, title="笔记本电脑 ThinkPad T14", storage_location="IT 部"
    )
    return Book(clients=[a, *others], a_contract=a_contract, contact=contact)


# ---------------------------------------------------------------------------------------
# One person at their own browser


class Shots:
    def __init__(self, folder: Path):
        self.folder = folder
        self.counter = itertools.count(1)

    def take(self, page, name: str) -> Path:
        path = self.folder / f"{next(self.counter):02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


class Person:
    """A logged-in person in a browser context of their own (their own session cookie)."""

    def __init__(self, browser, base_url: str, user, password: str, shots: Shots):
        self.user = user
        self.password = password
        self.shots = shots
        # Reduced motion: Bootstrap scrolls smoothly otherwise, and a button still sliding into
        # view makes every click wait for it to stand still.
        self.context = browser.new_context(
            base_url=base_url,
            viewport={"width": 1366, "height": 900},
            locale="zh-CN",
            reduced_motion="reduce",
            accept_downloads=True,
        )
        self.context.set_default_timeout(15_000)
        self.csp_violations = watch_csp(self.context)
        self.page = self.context.new_page()
        self.page.goto("/accounts/login/")
        self.page.fill("#id_username", user.username)
        self.page.fill("#id_password", password)
        with self.page.expect_navigation():
            self.page.click("form:has(#id_username) button")
        assert self.page.url.endswith("/handovers/inbox/"), f"{user.username} could not log in: {self.page.url}"

    def shot(self, name: str) -> Path:
        return self.shots.take(self.page, f"{self.user.username}-{name}")

    # --- pages ---------------------------------------------------------------------

    def inbox(self):
        self.page.goto("/handovers/inbox/")
        return self.page

    def inbox_entry(self, h_pk: int):
        return self.inbox().locator(f'.inbox-entry[data-handover="{h_pk}"]')

    def open(self, h_pk: int, tab: str = ""):
        """The handover page: at the stage it stands at, or at a tab of the workspace."""
        self.page.goto(f"/handovers/{h_pk}/" + (f"?tab={tab}" if tab else ""))
        return self.page

    def tab(self) -> str:
        return self.page.locator(".workspace-tabs a.nav-link.active").get_attribute("data-tab")

    def state(self) -> str:
        return self.page.locator("#handover-number ~ .state-badge").get_attribute("data-state")

    def client_block(self, client: Client):
        return self.page.locator(f'tbody.client-block[data-client="{client.pk}"]')

    def plan_row(self, hc_pk: int):
        """A client's row of the plan grid (by the handover client's id)."""
        return self.page.locator(f"#plan-grid-section tr.plan-row#client-{hc_pk}")

    def item_row(self, title_part: str):
        return self.page.locator("tr.item", has_text=title_part)

    # --- acting ----------------------------------------------------------------------

    def submit(self, button, *, ok: bool = True) -> None:
        """Press a form's button, wait for the page it leads to, and check the outcome message."""
        with self.page.expect_navigation():
            button.click()
        errors = self.page.locator('[data-message="error"]')
        if ok:
            assert errors.count() == 0, f"{self.user.username} was refused: {errors.all_inner_texts()}"
            assert self.page.locator('[data-message="success"]').count() == 1, self.page.url
        else:
            assert errors.count() == 1, f"{self.user.username} expected a refusal at {self.page.url}"

    def step(self, name: str) -> None:
        """A plain step of 'What you can do now' (submit, finish)."""
        self.submit(self.page.locator(f'form.step[data-step="{name}"] button'))

    def send_back(self, name: str, reason: str) -> None:
        details = self.page.locator(f'details.step-reason[data-step="{name}"]')
        details.locator("summary").click()
        details.locator(f"#reason-{name}").fill(reason)
        self.shot(f"{name}-reason")
        self.submit(details.locator('button[type="submit"]'))

    def sign_in(self, form, prefix: str, *, typed: bool = False, password: str | None = None):
        """Sign on a signing form: draw on the pad with the mouse (or type the name), give the password."""
        if typed:
            form.locator(f'label[for="{prefix}-typed"]').click()
            form.locator(f"#{prefix}-typed-name").fill(self.user.display_name)
        else:
            assert form.locator(f"#{prefix}-drawn").is_checked(), "drawing is the first choice with the script on"
            draw_signature(self.page, form.locator("canvas.signature-pad"))
        form.locator(f"#{prefix}-password").fill(password or self.password)
        return form

    def approve(self, name: str, *, typed: bool = False, comment: str = "", screenshot: str = "") -> None:
        """Sign and approve (the approval steps carry the approver's signature)."""
        details = self.page.locator(f'details.step-sign[data-step="{name}"]')
        # Ready to sign: the form is open at once, no expander to click.
        assert details.evaluate("d => d.open"), f"the signing form of {name} is closed"
        form = self.sign_in(details.locator("form[data-sign-form]"), name, typed=typed)
        if comment:
            form.locator(f"#comment-{name}").fill(comment)
        if screenshot:
            self.shot(screenshot)
        self.submit(form.locator('button[type="submit"]'))

    def sign_stage(self, *, typed: bool = False, password: str | None = None, ok: bool = True, screenshot: str = ""):
        """Sign the receipt, the visits record or the checklist on the handover page's signing form."""
        form = self.sign_in(self.page.locator("#sign-form"), "stage", typed=typed, password=password)
        if screenshot:
            self.shot(screenshot)
        self.submit(form.locator('button[type="submit"]'), ok=ok)

    def close(self) -> None:
        self.context.close()


def draw_signature(page, canvas) -> None:
    """Draw a signature-like scrawl over the canvas with the mouse."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] > 100 and box["height"] > 40, f"the signature pad is not shown: {box}"
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    strokes = [
        [(0.08, 0.70), (0.18, 0.25), (0.26, 0.75), (0.34, 0.30), (0.42, 0.68)],
        [(0.50, 0.40), (0.62, 0.72), (0.74, 0.28), (0.90, 0.60)],
    ]
    for stroke in strokes:
        page.mouse.move(x + stroke[0][0] * w, y + stroke[0][1] * h)
        page.mouse.down()
        for fx, fy in stroke[1:]:
            page.mouse.move(x + fx * w, y + fy * h, steps=4)
        page.mouse.up()


class Cast:
    """The people of the handover, each logged in at a browser of their own: cast(user) -> Person."""

    def __init__(self, browser, base_url: str, password: str, shots: Shots):
        self.browser, self.base_url, self.password, self.shots = browser, base_url, password, shots
        self.people: dict[str, Person] = {}

    def __call__(self, user) -> Person:
        person = Person(self.browser, self.base_url, user, self.password, self.shots)
        self.people[user.username] = person
        return person

    def csp_violations(self) -> list[str]:
        return [v for person in self.people.values() for v in person.csp_violations]


@pytest.fixture
def cast(request, people, password, live_server, chromium, screenshots_dir):
    """The cast; a failed test leaves a screenshot of each person's page. (The people are written
    to the database before Playwright starts.)"""
    from django.core.cache import cache

    cache.clear()  # no login throttle left over from another test
    the_cast = Cast(chromium, live_server.url, password, Shots(screenshots_dir))
    yield the_cast
    report = getattr(request.node, "report_call", None)
    for name, person in the_cast.people.items():
        if report is not None and report.failed:
            person.page.screenshot(path=str(screenshots_dir / f"failed-{name}.png"), full_page=True)
        person.close()


# ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_whole_procedure_through_the_pages(people, book_of_four, sealed, cast, tmp_path):
    started = time.monotonic()
    book = book_of_four
    a_client = book.a_client

    # --- HR starts the handover -----------------------------------------------------
    hr = cast(people.hr)
    page = hr.page
    page.click("#start-handover")
    assert page.url.endswith("/handovers/start/")
    page.select_option("#id_departing", str(people.departing.pk))
    page.select_option("#id_receiver", str(people.receiver.pk))
    page.select_option("#id_witness", str(people.witness.pk))
    page.select_option("#id_manager", str(people.manager.pk))
    page.select_option("#id_reason", "resignation")
    assert page.input_value("#id_notice_date") == timezone.localdate().isoformat()
    hr.shot("start-form")
    hr.submit(page.locator('main form button[type="submit"]'))
    h_pk = int(re.search(r"/handovers/(\d+)/", page.url).group(1))
    number = page.inner_text("#handover-number").strip()
    assert re.fullmatch(r"JJ\d{6}-\d{4}", number)
    assert hr.state() == State.PLAN
    # The handover opens at its stage's tab: the plan, every client a row of the grid (HR reads it).
    assert hr.tab() == "plan"
    hc_of = dict(HandoverClient.objects.filter(handover_id=h_pk).values_list("client_id", "pk"))
    assert set(hc_of) == {c.pk for c in book.clients}
    shown = {
        int(r)
        for r in page.locator("#plan-grid-section tr.plan-row").evaluate_all("els => els.map(e => e.id.split('-')[1])")
    }
    assert shown == set(hc_of.values())
    assert page.locator("#plan-grid textarea").count() == 0  # not HR's to edit
    hr.shot("handover-started")
    hr.open(h_pk, "materials")
    assert page.locator("tr.item", has_text="笔记本电脑 ThinkPad T14").count() == 1

    # --- The departing salesperson fills in the plan and submits it -------------------------
    departing = cast(people.departing)
    entry = departing.inbox_entry(h_pk)
    assert number in entry.inner_text()
    assert entry.locator(".state-badge").get_attribute("data-state") == State.PLAN
    departing.shot("inbox")
    with departing.page.expect_navigation():
        entry.click()
    page = departing.page
    assert departing.tab() == "plan"  # the to-do opens the tab of the work
    assert page.locator('[data-step="submit_plan"].step-blocked').count() == 1  # not checked and saved yet
    planned = (timezone.localdate() + datetime.timedelta(days=3)).isoformat()
    for c in book.clients:
        pk = hc_of[c.pk]
        row = departing.plan_row(pk)
        row.locator(f'textarea[name="s-{pk}"]').fill(f"{c.name}：合作正常，订单按期执行。")
        row.locator(f'textarea[name="k-{pk}"]').fill("暂无重大风险。")
        row.locator(f'textarea[name="n-{pk}"]').fill("与接收人共同拜访，介绍新对接人。")
        row.locator(f'input[name="d-{pk}"]').fill(planned)
    departing.submit(page.locator("#plan-save-all"))  # one save for the whole grid
    assert page.locator(".plan-gap").count() == 0
    assert page.locator(".prefilled-note").count() == 0
    departing.shot("plan-filled")
    departing.step("submit_plan")
    assert departing.state() == State.PLAN_REVIEW

    # --- The supervisor sends the plan back with a reason ----------------------------------
    supervisor = cast(people.supervisor)
    assert supervisor.inbox_entry(h_pk).count() == 1
    supervisor.open(h_pk)
    supervisor.send_back("return_plan_review", RETURN_REASON)
    assert supervisor.state() == State.PLAN

    # ... the departing salesperson reads the reason, fixes the plan and submits it again.
    entry = departing.inbox_entry(h_pk)
    assert RETURN_REASON in entry.locator(".return-reason").inner_text()
    departing.shot("inbox-returned")
    departing.open(h_pk)
    assert RETURN_REASON in page.locator("#return-reason .return-text").inner_text()
    assert page.locator('.handover-stages [data-stage="plan"]').get_attribute("data-status") == "returned"
    departing.shot("plan-returned")
    a_pk = hc_of[a_client.pk]
    departing.plan_row(a_pk).locator(f'textarea[name="k-{a_pk}"]').fill(FIXED_RISKS)
    departing.submit(page.locator("#plan-save-all"))
    departing.step("submit_plan")
    assert page.locator("#return-reason").count() == 0

    # --- The supervisor signs the plan off (drawn signature), the manager approves ------------
    supervisor.open(h_pk)
    assert FIXED_RISKS in supervisor.plan_row(hc_of[a_client.pk]).inner_text()
    supervisor.approve("approve_plan_review", comment="计划完整，同意。", screenshot="sign-and-approve-plan")
    assert supervisor.state() == State.PLAN_APPROVAL
    drawn = supervisor.page.locator("tr.signature img.signature-image")
    assert drawn.count() == 1
    assert drawn.evaluate("img => img.complete && img.naturalWidth > 0")

    manager = cast(people.manager)
    assert manager.inbox_entry(h_pk).count() == 1
    manager.open(h_pk)
    manager.approve("approve_plan")
    assert manager.state() == State.MATERIALS

    # --- The client notice, once the plan is approved: the departing person gives it by WeChat
    # (marked by hand) and the client answers on their own page, with no login ------------------
    noticed = HandoverClient.objects.filter(handover_id=h_pk).select_related("client").order_by("pk").first()
    dpage = departing.open(h_pk, "notices")
    row = dpage.locator(f"tbody#notice-{noticed.pk}")
    assert row.get_attribute("data-status") == "not_sent"
    row.locator("form.notice-mark select[name=channel]").select_option("wechat")
    with dpage.expect_navigation():
        row.locator("form.notice-mark button[type=submit]").click()
    row = dpage.locator(f"tbody#notice-{noticed.pk}")
    assert row.get_attribute("data-status") == "sent"
    text = row.locator(f"#sms-{noticed.pk}").input_value()
    assert len(text) <= 200 and people.receiver.display_name in text
    link = re.search(r"/handovers/answer/[0-9a-f]{40}/", text).group(0)
    visitor = cast.browser.new_context(base_url=cast.base_url, locale="zh-CN")
    try:
        answer = visitor.new_page()
        answer.goto(link)
        assert noticed.client.name in answer.inner_text("#client-answer")
        answer.check("input[name=answer][value=confirmed]")
        with answer.expect_navigation():
            answer.click("#answer-submit")
        assert answer.locator("#answer-done").count() == 1
        cast.shots.take(answer, "client-answer")
        answer.goto(link)  # answered once: the link says so and takes no second answer
        assert answer.locator("#answer-form").count() == 0
    finally:
        visitor.close()
    row = departing.open(h_pk, "notices").locator(f"tbody#notice-{noticed.pk}")
    assert row.get_attribute("data-status") == "confirmed"
    manager.open(h_pk, "report")  # every signature so far, on the report's tab
    assert manager.page.locator("tr.signature img.signature-image").count() == 2

    # --- Materials: everything handed over; the receiver disputes the A client's contract ------
    departing.open(h_pk)
    total_items = page.locator("tr.item").count()
    assert total_items == 9  # 4 clients; the A client's contract, receivable and deal; one more contract; the laptop
    departing.submit(page.locator("#hand-over-all button"))
    assert page.locator('tr.item[data-status="handed_over"]').count() == total_items

    receiver = cast(people.receiver)
    assert receiver.inbox_entry(h_pk).count() == 1
    receiver.open(h_pk)
    rpage = receiver.page
    assert rpage.locator("#confirm-all").count() == 1
    contract_row = receiver.item_row(book.a_contract_title)
    with rpage.expect_navigation():
        contract_row.locator('a[href$="/dispute/"]').click()
    assert rpage.inner_text("#item-title").strip() == book.a_contract_title
    rpage.fill("#dispute-reason", DISPUTE_REASON)
    receiver.shot("dispute")
    receiver.submit(rpage.locator('#dispute-form button[type="submit"]'))
    assert receiver.item_row(book.a_contract_title).get_attribute("data-status") == "disputed"

    # ... the departing salesperson sees the dispute in their to-do, answers it there and so hands
    # the contract over again.
    entry = departing.inbox_entry(h_pk)
    answer = departing.page.locator("form.dispute-answer")
    assert answer.count() == 1
    assert DISPUTE_REASON in answer.locator(".dispute-reason").inner_text()
    departing.open(h_pk)
    row = departing.item_row(book.a_contract_title)
    assert row.get_attribute("data-status") == "disputed"
    assert DISPUTE_REASON in row.locator(".dispute-reason").inner_text()
    answer = page.locator("#actions form.dispute-answer")
    assert DISPUTE_REASON in answer.locator(".dispute-reason").inner_text()
    answer.locator('textarea[name="reply"]').fill(DISPUTE_REPLY)
    departing.shot("sees-dispute")
    departing.submit(answer.locator('button[type="submit"]'))
    row = departing.item_row(book.a_contract_title)
    assert row.get_attribute("data-status") == "handed_over"
    assert DISPUTE_REPLY in row.locator(".dispute-reply").inner_text()  # the receiver reads the reply

    # ... the receiver confirms everything and signs the receipt (a wrong password first).
    receiver.open(h_pk)
    receiver.submit(rpage.locator("#confirm-all button"))
    assert rpage.locator('tr.item[data-status="confirmed"]').count() == total_items
    receiver.sign_stage(password="not-my-password", ok=False)
    assert rpage.locator("tr.signature", has_text=people.receiver.display_name).count() == 0
    receiver.sign_stage(screenshot="sign-receipt")
    assert rpage.locator('#signature-needs .signature-need[data-status="valid"]').count() == 1
    assert rpage.locator("tr.signature", has_text=people.receiver.display_name).locator("img").count() == 1

    departing.open(h_pk)
    departing.step("submit_materials")
    assert departing.state() == State.MATERIALS_REVIEW
    supervisor.open(h_pk)
    supervisor.approve("approve_materials", typed=True)
    assert supervisor.state() == State.VISITS
    supervisor.open(h_pk, "report")
    assert supervisor.page.locator("tr.signature .signature-typed", has_text=people.supervisor.display_name).count()

    # --- Joint visits in the grid: each records some, the other confirms; the receiver signs ---
    departing.open(h_pk)
    assert departing.tab() == "visits"
    today = timezone.localdate().isoformat()

    def type_visit(person: Person, client: Client, mode: str) -> None:
        """Type a visit on the client's row of the visits grid (saved with the grid's one button)."""
        contact = book.contact[client.pk]
        pk = hc_of[client.pk]
        row = person.page.locator(f"#visits-client-{pk}")
        row.locator(f'input[name="v-{pk}-visited_on"]').fill(today)
        row.locator(f'select[name="v-{pk}-mode"]').select_option(mode)
        row.locator(f'input[name="v-{pk}-contact_met"]').fill(contact)
        row.locator(f'textarea[name="v-{pk}-outcome"]').fill(
            f"已向{contact}介绍新对接人{people.receiver.display_name}，客户认可。"
        )
        row.locator(f'textarea[name="v-{pk}-concerns"]').fill("希望价格政策保持不变。")

    type_visit(departing, a_client, "in_person")  # A clients are visited in person
    for c in book.clients[1:3]:
        type_visit(departing, c, "joint_call")
    departing.submit(page.locator("#visits-save-all"))
    assert page.locator(".visits-grid .visit").count() == 3
    departing.shot("visits-recorded")

    receiver.open(h_pk)
    type_visit(receiver, book.clients[3], "joint_call")
    receiver.submit(rpage.locator("#visits-save-all"))
    assert rpage.locator('.visits-grid input[name="visit"]').count() == 3  # the departing person's three
    receiver.submit(rpage.locator("#visits-confirm-all"))
    assert rpage.locator('.visits-grid input[name="visit"]').count() == 0
    assert rpage.locator("#sign-blocked").count() == 1  # the visit the receiver recorded awaits the other side

    departing.open(h_pk)
    waiting = page.locator('.visits-grid input[name="visit"]')
    assert waiting.count() == 1
    waiting.check()
    departing.submit(page.locator("#visits-confirm-selected"))
    assert page.locator(".visits-grid .visited").count() == len(book.clients)

    receiver.open(h_pk)
    receiver.sign_stage(screenshot="sign-visits")
    departing.open(h_pk)
    departing.step("submit_visits")
    supervisor.open(h_pk)
    supervisor.approve("approve_visits")
    assert supervisor.state() == State.SPOT_CHECK

    # --- The witness calls the sampled clients from the call list ------------------------
    witness = cast(people.witness)
    assert witness.inbox_entry(h_pk).count() == 1
    witness.open(h_pk)
    assert witness.tab() == "spot_check"
    wpage = witness.page
    sampled = wpage.locator(".calls-grid tr[id^='calls-client-']").evaluate_all(
        "els => els.map(e => Number(e.id.split('-')[2]))"
    )
    assert hc_of[a_client.pk] in sampled  # every A client is called
    a_contacts = wpage.locator(f"#calls-client-{hc_of[a_client.pk]} a.tel")
    assert a_contacts.count() == 2
    assert all(href.startswith("tel:") for href in a_contacts.evaluate_all("els => els.map(e => e.href)"))
    assert wpage.locator('[data-step="finish_spot_check"].step-blocked').count() == 1
    witness.shot("spot-check")
    for pk in sampled:
        wpage.check(f"#c-{pk}-confirmed")
        wpage.fill(f'textarea[name="c-{pk}-note"]', "客户确认已知新对接人。")
    # One client unreachable first, with no note of it: "save all and finish" is refused on that
    # row, and the answer shows with every choice and note in place (nothing typed is lost).
    first = sampled[0]
    wpage.check(f"#c-{first}-unreachable")
    wpage.fill(f'textarea[name="c-{first}-note"]', "")
    wpage.click("#calls-save-finish")
    wpage.locator(f"#calls-client-{first}.table-danger").wait_for()
    assert wpage.locator(f"#c-{first}-unreachable").is_checked()
    for pk in sampled[1:]:
        assert wpage.locator(f"#c-{pk}-confirmed").is_checked()
        assert wpage.input_value(f'textarea[name="c-{pk}-note"]') == "客户确认已知新对接人。"
    assert witness.state() == State.SPOT_CHECK
    wpage.check(f"#c-{first}-confirmed")
    witness.submit(wpage.locator("#calls-save-all"))
    supervisor.open(h_pk, "spot_check")  # the calls as everyone else reads them
    assert supervisor.page.locator("ul.calls li.call").count() == len(sampled)
    witness.step("finish_spot_check")
    assert witness.state() == State.REPORT

    # --- The report: written, reviewed; the checklist signed by three; the final approval ----
    departing.open(h_pk)
    page.fill("#report-summary", REPORT_SUMMARY)
    page.fill("#report-risks", "华东精密机械的应收款需接收人跟进。")
    page.fill("#report-advice", "优先跟进A类客户续约。")
    departing.submit(page.locator("#report-save"))
    departing.shot("report")
    departing.step("submit_report")
    assert departing.state() == State.REPORT_REVIEW

    supervisor.open(h_pk)
    assert REPORT_SUMMARY in supervisor.page.locator("#report").inner_text()
    supervisor.approve("approve_report_review")
    assert supervisor.state() == State.REPORT_APPROVAL

    manager.open(h_pk)
    assert manager.page.locator('[data-step="approve_report"].step-blocked').count() == 1  # three signatures first
    departing.open(h_pk)
    departing.sign_stage(screenshot="sign-checklist")
    receiver.open(h_pk)
    receiver.sign_stage(typed=True)
    witness.open(h_pk)
    witness.sign_stage(typed=True)
    assert wpage.locator('#signature-needs .signature-need[data-status="valid"]').count() == 3

    manager.open(h_pk)
    manager.approve("approve_report", comment="同意，交接完成。", screenshot="final-approval")
    assert manager.state() == State.COMPLETED
    stages = manager.page.locator(".handover-stages .stage").evaluate_all("els => els.map(e => e.dataset.status)")
    assert stages == ["done"] * 6
    manager.shot("completed")

    # Now the clients are the receiver's: on the receiver's list with the duties to contact and
    # visit them; no longer on the departing salesperson's.
    assert receiver.inbox().locator(f'.inbox-entry[data-handover="{h_pk}"]').count() == 2
    receiver.page.goto("/clients/")
    listed = receiver.page.locator("tr[data-client-id]").evaluate_all("els => els.map(e => Number(e.dataset.clientId))")
    assert set(listed) == {c.pk for c in book.clients}
    departing.page.goto("/clients/")
    assert departing.page.locator("tr[data-client-id]").count() == 0

    # --- The receiver's duties: from the to-do to the duty page, a visit recorded per client --
    # (a visit proves both duties: contact within 7 days, visit within 30).
    rpage = receiver.page
    with rpage.expect_navigation():
        receiver.inbox().locator(f'.inbox-entry[data-handover="{h_pk}"]').first.click()
    assert "/handovers/duties/" in rpage.url
    visits = rpage.locator(f"section.duty-group#handover-{h_pk}-visit_client")
    assert visits.locator('tr.duty-row[data-done="0"]').count() == len(book.clients)
    for n in range(len(book.clients)):
        group = rpage.locator(f"section.duty-group#handover-{h_pk}-visit_client")
        with rpage.expect_navigation():
            group.locator('tr.duty-row[data-done="0"] a.record-follow-up').first.click()
        if n == 0:
            # Refused first (no content), the choices made stay in place with the message beside.
            rpage.select_option("#id_kind", "visit")
            with rpage.expect_navigation():
                rpage.click("#follow-up-save")
            assert rpage.locator("#id_content_error").count() == 1
            assert rpage.locator("#id_kind").input_value() == "visit"
            receiver.shot("follow-up-refused")
        rpage.select_option("#id_kind", "visit")
        rpage.fill("#id_content", "与离职同事一同上门拜访，客户已确认新的对接人。")
        with rpage.expect_navigation():
            rpage.click("#follow-up-save")
        assert "/handovers/duties/" in rpage.url
    for kind in ("contact_client", "visit_client"):
        group = rpage.locator(f"section.duty-group#handover-{h_pk}-{kind}")
        assert group.locator('tr.duty-row[data-done="1"]').count() == len(book.clients)
        assert group.locator('tr.duty-row[data-done="0"]').count() == 0
    receiver.shot("duties-done")
    assert receiver.inbox().locator(f'.inbox-entry[data-handover="{h_pk}"]').count() == 0

    # --- HR: the accounts to revoke on the to-do list; the sealed confirmation to download ----
    assert hr.inbox().locator(f'.inbox-entry[data-handover="{h_pk}"] + form.revoke-form').count() == 1
    hr.page.goto("/handovers/duties/")
    hr.page.once("dialog", lambda dialog: dialog.accept())  # "deactivate this account now?"
    with hr.page.expect_navigation():
        hr.page.locator(f"section.duty-group#handover-{h_pk}-revoke_accounts form.revoke-form button").click()
    assert (
        hr.page.locator(f'section.duty-group#handover-{h_pk}-revoke_accounts tr.duty-row[data-done="1"]').count() == 1
    )
    # --- The supervisor's evaluation (交接评估), from the duty page; then no duty is left open ---
    spage = supervisor.page
    spage.goto("/handovers/duties/")
    with spage.expect_navigation():
        spage.locator(f"section.duty-group#handover-{h_pk}-evaluate_handover a.evaluate-link").click()
    form = spage.locator("form.evaluation-form")
    for name, score in (("materials_score", "5"), ("feedback_score", "4"), ("adaptation_score", "4")):
        form.locator(f'input[name="{name}"][value="{score}"]').check()
    form.locator('textarea[name="comment"]').fill("资料齐全，客户反馈良好，接收人适应较快。")
    with spage.expect_navigation():
        form.locator("button").click()
    assert spage.locator('#evaluation[data-evaluated="true"]').count() == 1
    supervisor.shot("evaluation")
    assert not Duty.objects.filter(handover_id=h_pk, done_at__isnull=True).exists()
    with hr.page.expect_navigation():
        hr.page.click("#nav-archive")
    row = hr.page.locator(f'tr[data-handover-id="{h_pk}"]')
    deadline = time.monotonic() + 15
    while row.locator("a.download").count() == 0 and time.monotonic() < deadline:
        hr.page.wait_for_timeout(500)  # made in the background after the approval (the archive thread)
        hr.page.reload()
    assert number in row.inner_text()
    code = row.locator(".verification-code").inner_text().strip()
    hr.shot("archive")
    with hr.page.expect_download() as download_info:
        row.locator("a.download").click()
    download = download_info.value
    assert download.suggested_filename == f"{number}.pdf"
    pdf_path = tmp_path / download.suggested_filename
    download.save_as(pdf_path)
    data = pdf_path.read_bytes()
    (cast.shots.folder / "confirmation.pdf").write_bytes(data)  # beside the screenshots, to look at
    assert data.startswith(b"%PDF")
    text = poppler("pdftotext", "-enc", "UTF-8", "-", "-", data=data)
    assert number in text
    assert code in text
    assert a_client.name in text
    assert people.departing.display_name in text

    # --- In the database: the clients are the receiver's now --------------------------------
    h = Handover.objects.get(pk=h_pk)
    assert h.state == State.COMPLETED
    assert h.archive.sha256
    assert set(Client.objects.filter(pk__in=[c.pk for c in book.clients]).values_list("owner", flat=True)) == {
        people.receiver.pk
    }
    # Every page every person saw passed the Content-Security-Policy.
    assert cast.csp_violations() == []
    print(f"the whole procedure took {time.monotonic() - started:.1f} s in the browser")
