"""How fast the handover page is for a departing salesperson with a large book: 500 clients."""

from django.db import connection
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from demo.walk import advance_to
from handover.models import State

from .shared import BENCH_PASSWORD, large_handover, median_seconds

CLIENTS = 500
MAX_QUERIES = 15
MAX_SECONDS = 0.300
TARGET = f"≤ {MAX_QUERIES} queries, ≤ {MAX_SECONDS * 1000:.0f} ms"


def bench_handover_page(clients: int = CLIENTS) -> list[dict]:
    h = large_handover(clients)
    # The joint-visit stage: every client still needs its visit, so the departing person's page
    # carries the whole checklist, a visit form per client and the plan of each; the timeline
    # holds the plan edits of every client.
    h = advance_to(h, State.VISITS, password=BENCH_PASSWORD)
    browser = Browser()
    browser.force_login(h.departing)
    url = reverse("handover:detail", args=[h.pk])

    def get():
        response = browser.get(url)
        if response.status_code != 200:
            raise AssertionError(f"{url} answered {response.status_code}")

    seconds = median_seconds(get)
    with CaptureQueriesContext(connection) as queries:
        get()
    return [
        {
            "name": f"handover page, {clients} clients",
            "seconds": seconds,
            "queries": len(queries),
            "target": TARGET,
            "ok": len(queries) <= MAX_QUERIES and seconds <= MAX_SECONDS,
        }
    ]
