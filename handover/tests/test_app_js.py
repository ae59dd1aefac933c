"""static/js/app.js in Chromium, on a page of its own (no server): a sent form cannot be sent twice
and shows that it is working, the back button's cached page is usable again, a polled element
is replaced by its answer."""

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("BROWSER_CHROMIUM", "/usr/bin/chromium")
APP_JS = (Path(__file__).resolve().parents[2] / "static" / "js" / "app.js").read_text()

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]

PAGE = """<!DOCTYPE html><html lang="zh-hans"><head><meta charset="utf-8"></head><body>
<iframe name="sink"></iframe>
<form id="approve" method="post" action="/act" target="sink">
  <input name="comment" value="同意">
  <button type="submit" name="decision" value="approve" id="go">同意并签字</button>
  <button type="submit" name="decision" value="reject" id="back">退回</button>
</form>
<form id="asked" method="post" action="/act" target="sink">
  <button type="submit" id="ask" data-confirm="确定？">删除</button>
</form>
<span id="status" data-poll-url="/status" data-poll-every="50">正在生成确认书…</span>
<script src="/app.js"></script>
</body></html>"""


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.sent = []

        def serve(route):
            url = route.request.url
            if url.endswith("/app.js"):
                route.fulfill(body=APP_JS, content_type="application/javascript")
            elif url.endswith("/act"):
                page.sent.append(route.request.post_data)
                route.fulfill(body="<p>ok</p>", content_type="text/html")
            elif url.endswith("/status"):
                ready = '<span data-archive-state="ready" id="status">已生成</span>'
                route.fulfill(body=ready, content_type="text/html")
            else:
                route.fulfill(body=PAGE, content_type="text/html")

        page.route("http://app.test/**", serve)
        page.goto("http://app.test/")
        yield page
        browser.close()


def test_a_sent_form_cannot_be_sent_twice_and_says_it_is_working(page):
    page.click("#go")
    page.wait_for_function("document.getElementById('go').disabled")
    assert page.is_disabled("#back")
    assert "处理中" in page.inner_text("#go")
    # A second press does nothing: still one request, and it carried the button pressed.
    page.click("#go", force=True)
    page.wait_for_timeout(300)
    assert len(page.sent) == 1 and "decision=approve" in page.sent[0] and "comment=" in page.sent[0]


def test_coming_back_from_the_cache_makes_the_buttons_usable_again(page):
    page.click("#go")
    page.wait_for_function("document.getElementById('go').disabled")
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pageshow', {persisted: true}))")
    assert not page.is_disabled("#go") and not page.is_disabled("#back")
    assert page.inner_text("#go") == "同意并签字"


def test_a_confirmation_declined_leaves_the_form_as_it_was(page):
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#ask")
    page.wait_for_timeout(200)
    assert not page.is_disabled("#ask") and page.sent == []


def test_a_polled_element_is_replaced_by_its_answer(page):
    page.wait_for_selector('#status[data-archive-state="ready"]', timeout=5000)
    assert page.inner_text("#status") == "已生成"
