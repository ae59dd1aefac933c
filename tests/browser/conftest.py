"""Browser tests: Debian's Chromium (apt package chromium) driven through Playwright's sync API.

No browser is ever downloaded (`playwright install` is never run): the tests launch
/usr/bin/chromium (or $BROWSER_CHROMIUM), and are skipped, saying why, when it is not there.
Screenshots of the pages go to artifacts/browser/ (or $BROWSER_SCREENSHOTS_DIR); the run's
summary names the folder.
"""

import os
import re
from pathlib import Path

import pytest

# The seal and a temporary MEDIA_ROOT for the archived confirmation, as the handover tests use them.
from handover.tests.conftest import seal_dir, sealed  # noqa: F401

CHROMIUM = os.environ.get("BROWSER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]
SHOTS_KEY = pytest.StashKey[Path]()
SHOT_NAME = re.compile(r"^\d{2}-[\w-]+\.png$")
PDF_NAME = "confirmation.pdf"  # the downloaded confirmation, kept beside the screenshots


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the test, so a fixture can tell at teardown that the test failed.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    folder = config.stash.get(SHOTS_KEY, None)
    if folder is not None:
        terminalreporter.write_line(f"browser screenshots: {folder}")


def watch_csp(context) -> list[str]:
    """What the Content-Security-Policy blocks in this browser context, as Chromium reports it.

    A page that needs more than the policy allows (an inline script, an on...= attribute, a
    style attribute, an asset from elsewhere) logs a console error; tests assert the list is empty.
    """
    violations: list[str] = []

    def on_console(message):
        if "Content Security Policy" in message.text:
            violations.append(f"{message.page.url if message.page else ''}: {message.text}")

    context.on("console", on_console)
    # The DOM event as well, for what the console might word differently.
    context.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy violation: ' + e.violatedDirective + ' ' + (e.blockedURI || 'inline')));"
    )
    return violations


def artifacts_dir() -> Path:
    """The run's folder of screenshots and other artifacts (the effort table), made if missing."""
    folder = Path(os.environ.get("BROWSER_SCREENSHOTS_DIR") or REPO / "artifacts" / "browser").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def screenshots_dir(request) -> Path:
    """Where this run's screenshots go; the names of the last run's are cleared first."""
    folder = artifacts_dir()
    for old in folder.iterdir():
        if old.is_file() and (SHOT_NAME.match(old.name) or old.name.startswith("failed-") or old.name == PDF_NAME):
            old.unlink()
    request.config.stash[SHOTS_KEY] = folder
    print(f"browser screenshots: {folder}")
    return folder


@pytest.fixture
def chromium(monkeypatch):
    """A headless Debian Chromium under Playwright, for one test."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"no Chromium at {CHROMIUM} (scripts/setup.sh installs the Debian package chromium)")
    from django.db import connections
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running on this thread while it is started;
    # Django would refuse the test's own ORM queries under it (the live server answers from
    # threads of its own). And while that loop runs, this thread's database connections are
    # other ones (asgiref keeps them per context then): those are closed before Playwright
    # stops, or they would outlive the test and PostgreSQL would not drop the test database.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
            connections.close_all()
