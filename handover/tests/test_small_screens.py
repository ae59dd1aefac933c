"""Two small gaps of issue 14's pages: the duty page on a 390 px phone stacks each duty with its cells
labelled (the CSS in static/css/app.css), and the dashboard's period keeps the dates as yyyy-mm-dd."""

import datetime
from pathlib import Path

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from clients.tests.factories import ClientFactory
from handover.models import Duty, DutyKind


def test_each_duty_cell_says_what_it_is_for_the_stacked_phone_layout(handover, people, login):
    client = ClientFactory(owner=people.receiver)
    Duty.objects.create(
        handover=handover,
        kind=DutyKind.CONTACT_CLIENT,
        client=client,
        assignee=people.receiver,
        due_on=timezone.localdate() + datetime.timedelta(days=3),
    )
    html = login(people.receiver).get(reverse("handover:duties")).content.decode()
    for label in ("客户", "执行人", "截止日期", "状态"):
        assert f'data-label="{label}"' in html, label
    assert 'class="text-end duty-actions"' in html
    css = (Path(settings.BASE_DIR) / "static" / "css" / "app.css").read_text()
    assert "@media (max-width: 575.98px)" in css and ".table-responsive > .table.duty-table { min-width: 0; }" in css


def test_the_dashboard_period_is_written_back_as_yyyy_mm_dd(people, login):
    page = login(people.hr).get(reverse("handover:dashboard"), {"date_from": "2026-01-05", "date_to": "2026-03-31"})
    html = page.content.decode()
    assert page.context["form"].is_valid()
    assert 'name="date_from" value="2026-01-05"' in html and 'name="date_to" value="2026-03-31"' in html
