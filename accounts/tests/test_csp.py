"""The Content-Security-Policy: every page carries a strict one, and no page needs more.

No page has an inline script, an on...= attribute or a style attribute (the policy allows
none); their code and rules are in static/js and static/css. The browser test
(tests/browser) then fails on any violation a real browser reports.
"""

from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.tests.factories import DEFAULT_PASSWORD
from accounts.tests.test_security import _run
from clients.models import Client
from handover.models import State
from tests.walk import advance_to


def _directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    parts = [p.strip().split() for p in header.split(";") if p.strip()]
    return {p[0]: p[1:] for p in parts}


class _InlineFinder(HTMLParser):
    """Collects what a strict policy would block: inline scripts, event attributes, style attributes."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        for name, _value in attrs:
            if name.startswith("on") or name == "style":
                self.found.append(f"<{tag} {name}=...>")
        if tag == "style":
            self.found.append("<style>")
        script_type = (names.get("type") or "text/javascript").lower()
        if tag == "script" and "src" not in names and "json" not in script_type:
            self._in_inline_script = True

    def handle_endtag(self, tag):
        self._in_inline_script = False

    def handle_data(self, data):
        if self._in_inline_script and data.strip():
            self.found.append(f"<script>{data.strip()[:40]}")


def _inline(html: str) -> list[str]:
    finder = _InlineFinder()
    finder.feed(html)
    return finder.found


@pytest.fixture
def pages(handover, people):
    """(user, url) of the site's pages: lists, forms, the handover at a signing stage, the admin, the docs."""
    h = advance_to(handover, State.PLAN_REVIEW)
    people.admin.is_staff = True
    people.admin.save()
    client = Client.objects.filter(owner=people.departing).first()
    return [
        (None, reverse("login")),
        (people.supervisor, reverse("handover:inbox")),
        (people.supervisor, reverse("handover:list")),
        (people.supervisor, reverse("handover:detail", args=[h.pk])),
        (people.hr, reverse("handover:start")),
        (people.hr, reverse("handover:archive")),
        (people.hr, reverse("handover:verify")),
        (people.departing, reverse("clients:list")),
        (people.departing, reverse("clients:detail", args=[client.pk])),
        (people.admin, reverse("clients:import")),
        (people.departing, reverse("notifications")),
        (people.departing, reverse("api:docs")),
        (people.admin, reverse("admin:index")),
        (people.admin, reverse("admin:accounts_user_changelist")),
        (people.admin, reverse("admin:accounts_user_change", args=[people.departing.pk])),
    ]


def test_every_page_has_a_strict_policy_and_nothing_inline(client, pages):
    for user, url in pages:
        client.logout()
        if user is not None:
            client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200, url
        policy = _directives(response)
        assert policy["default-src"] == ["'self'"], url
        assert policy["script-src"] == ["'self'"], url
        assert policy["style-src"] == ["'self'"], url
        assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"], url
        assert _inline(response.content.decode()) == [], url


def test_the_finder_sees_what_the_policy_blocks():
    # The control for the test above: each kind of inline code is found.
    html = '<script>alert(1)</script><a onclick="x()">a</a><div style="width:1px"></div><style>p{}</style>'
    assert len(_inline(html)) == 4
    assert _inline('<script src="/static/js/app.js"></script><script type="application/json">{}</script>') == []


def test_the_docs_page_loads_its_script_as_a_file(client, people):
    client.force_login(people.departing)
    response = client.get(reverse("api:docs"), {"script": ""})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in response.content.decode()


def test_a_session_lasts_eight_hours_by_default(client, people):
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    response = client.post(reverse("login"), {"username": "departing", "password": DEFAULT_PASSWORD})
    assert response.status_code == 302
    assert response.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 8 * 3600
    assert 8 * 3600 - 5 <= client.session.get_expiry_age() <= 8 * 3600


def test_the_session_age_comes_from_the_environment():
    code = "import django; django.setup(); from django.conf import settings as s; print(s.SESSION_COOKIE_AGE)"
    result = _run(["-c", code], DJANGO_SETTINGS_MODULE="config.settings", SESSION_AGE_HOURS="2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "7200"


def test_a_pdf_carries_no_policy_so_the_browsers_viewer_shows_it(handover, people, login):
    h = advance_to(handover, State.MATERIALS)
    browser = login(people.receiver)
    response = browser.get(reverse("handover:print_stage", args=[h.pk, "materials"]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "Content-Security-Policy" not in response
    assert "Content-Security-Policy" in browser.get(reverse("handover:detail", args=[h.pk]))
