"""How fast and how heavy the handover workspace is for a departing salesperson with a large book:
500 clients. The page shows one tab (the stage the handover stands at) and 100 clients of it at a
time; its HTML is measured against a raw values() dump of the rows it shows."""

import json
import re

from django.db import connection
from django.test import Client as Browser
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from demo.walk import advance_to
from handover.models import ChecklistItem, Handover, HandoverClient, State, Visit
from handover.selectors import client_risks

from .shared import BENCH_PASSWORD, large_handover, median_seconds

CLIENTS = 500
# The page of one stage: its sections, and (plan stage) one for the relationship risk of every client.
MAX_QUERIES = 16
MAX_SECONDS = 0.300
MAX_KB = 300
MAX_DUMP_RATIO = 3.0
TARGET = f"≤ {MAX_QUERIES} queries, ≤ {MAX_SECONDS * 1000:.0f} ms"
SIZE_TARGET = f"≤ {MAX_KB} KB, ≤ {MAX_DUMP_RATIO:g}× a values() dump"


def shown_rows_dump(html: str, h: Handover) -> bytes:
    """A raw dump of the rows the page shows: its clients' plan rows, their items and visits, and
    (where the page shows it) each client's relationship risk, its level and reasons, as the API
    gives them: data the page shows, not markup, so they count on the dump's side too."""
    ids = {int(pk) for pk in re.findall(r'id="(?:visits-|calls-)?client-(\d+)"', html)}
    items = {int(pk) for pk in re.findall(r'id="item-(\d+)"', html)}
    visits = {int(pk) for pk in re.findall(r'id="visit-(\d+)"', html)}
    rows = {
        "clients": list(HandoverClient.objects.filter(pk__in=ids).values("pk", "client__name", "grade", *PLAN)),
        "items": list(ChecklistItem.objects.filter(pk__in=items).values()),
        "visits": list(Visit.objects.filter(pk__in=visits).values()),
    }
    if '<td class="risk"' in html:
        risks = client_risks(h)
        shown = sorted(pk for pk in ids if pk in risks)
        rows["risks"] = [{"pk": pk, "level": risks[pk].level, "reasons": risks[pk].reasons} for pk in shown]
    return json.dumps(rows, default=str, ensure_ascii=False).encode()


PLAN = ["receiver__full_name", "current_status", "risks", "next_steps", "planned_visit_on", "row_version"]


def bench_handover_page(clients: int = CLIENTS) -> list[dict]:
    h = large_handover(clients)
    rows = []
    # The plan stage (the grid of every client, prefilled), then the joint visits (every client
    # still needs its visit: the visits grid, the plans, the checklist).
    for state in (State.PLAN, State.VISITS):
        h = advance_to(h, state, password=BENCH_PASSWORD)
        browser = Browser()
        browser.force_login(h.departing)
        url = reverse("handover:detail", args=[h.pk])

        def get(browser=browser, url=url):
            response = browser.get(url)
            if response.status_code != 200:
                raise AssertionError(f"{url} answered {response.status_code}")
            return response

        seconds = median_seconds(get)
        with CaptureQueriesContext(connection) as queries:
            html = get().content.decode()
        size = len(html.encode())
        dump = len(shown_rows_dump(html, h)) or 1
        ratio = size / dump
        label = state.label if hasattr(state, "label") else str(state)
        rows.append(
            {
                "name": f"handover page, {clients} clients, {label}",
                "seconds": seconds,
                "queries": len(queries),
                "target": TARGET,
                "ok": len(queries) <= MAX_QUERIES and seconds <= MAX_SECONDS,
            }
        )
        rows.append(
            {
                "name": f"  its HTML: {size / 1024:.0f} KB, {ratio:.1f}× the dump of its rows",
                "seconds": None,
                "target": SIZE_TARGET,
                "ok": size <= MAX_KB * 1024 and ratio <= MAX_DUMP_RATIO,
            }
        )
    return rows
