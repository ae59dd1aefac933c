"""Pages the whole-procedure walk does not open, in the browser under the Content-Security-Policy.

The admin, the API docs (Swagger UI), the verification page, the client pages with their
progress bars, the notices, the start form and the archive list: each renders with no
violation reported. The behaviour moved out of inline attributes works from static/js/app.js:
the language switch submits itself, and HR's "deactivate" button asks first.
"""

from decimal import Decimal

import pytest

from clients.tests.factories import ClientFactory, ContractFactory
from handover.models import State
from tests.browser.conftest import watch_csp
from tests.walk import advance_to

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def _logged_in(browser, base_url, user, password):
    context = browser.new_context(base_url=base_url, locale="zh-CN", reduced_motion="reduce")
    context.set_default_timeout(15_000)
    violations = watch_csp(context)
    page = context.new_page()
    page.goto("/accounts/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("form:has(#id_username) button")
    return context, page, violations


@pytest.fixture
def world(people, handover):
    """A completed handover and a client with a contract; written before Playwright starts."""
    from django.core.cache import cache

    cache.clear()  # no login throttle left over from another test
    client = ClientFactory(owner=people.receiver, grade="A")
    ContractFactory(client=client, performance_progress=40, amount=Decimal("1000.00"), amount_paid=Decimal("700.00"))
    h = advance_to(handover, State.COMPLETED)
    people.admin.is_staff = True
    people.admin.save()
    return h, client


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_other_pages_pass_the_policy(people, password, world, live_server, chromium):
    h, client = world

    # The administrator: the admin's pages.
    context, page, admin_violations = _logged_in(chromium, live_server.url, people.admin, password)
    for path in ["/admin/", "/admin/accounts/user/", f"/admin/accounts/user/{people.departing.pk}/change/"]:
        page.goto(path)
        assert page.locator("#content").count() == 1, path
    page.goto("/clients/import/")
    context.close()

    # HR: the start form, the archive, verification, the docs; the deactivate button asks first.
    context, page, hr_violations = _logged_in(chromium, live_server.url, people.hr, password)
    for path in ["/handovers/start/", "/handovers/archive/", "/handovers/verify/", "/notifications/"]:
        page.goto(path)
        assert page.locator("main").count() == 1, path
    page.goto("/api/docs/")
    page.wait_for_selector(".swagger-ui .info", timeout=20_000)  # Swagger UI ran and read the schema
    assert page.locator(".opblock").count() > 5
    page.goto("/handovers/inbox/")
    button = page.locator(f'.inbox-entry[data-handover="{h.pk}"] + form.revoke-form button')
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    button.click()
    page.wait_for_timeout(300)
    assert len(asked) == 1 and asked[0]
    people.departing.refresh_from_db()
    assert people.departing.is_active  # dismissed: nothing was sent
    # The language switch submits itself when a language is chosen.
    with page.expect_navigation():
        page.select_option('select[name="language"]', "en")
    assert page.locator("html").get_attribute("lang") == "en"
    context.close()

    # The receiver: the client list and a client's page with its progress bars.
    context, page, receiver_violations = _logged_in(chromium, live_server.url, people.receiver, password)
    page.goto("/clients/")
    page.goto(f"/clients/{client.pk}/")
    bars = page.locator("progress.progress-thin")
    assert bars.count() == 2
    assert sorted(bars.evaluate_all("els => els.map(e => e.value)")) == [40, 70]
    assert admin_violations + hr_violations + receiver_violations == []

    # The control: an inline script is blocked, and the watch reports it.
    page.evaluate("""() => {
        const s = document.createElement("script");
        s.textContent = "window.ranInline = true";
        document.body.append(s);
    }""")
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.ranInline") is None
    assert receiver_violations and "Content Security Policy" in receiver_violations[-1]
    context.close()
