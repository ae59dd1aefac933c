"""The database's own date arithmetic (handover/selectors/sql_dates.py): the same answers as Python's,
on SQLite and PostgreSQL, at the edges of a Shanghai day."""

import datetime

import pytest
from django.db.models import F, Value
from django.utils import timezone

from handover.models import Handover
from handover.selectors.sql_dates import DayNumber, DaysAfter, LocalDate, day_number

UTC = datetime.UTC


@pytest.mark.parametrize(
    "moment",
    [
        datetime.datetime(2026, 3, 1, 15, 59, 59, 999999, tzinfo=UTC),  # 23:59:59 in Shanghai
        datetime.datetime(2026, 3, 1, 16, 0, 0, tzinfo=UTC),  # midnight in Shanghai: the next day
        datetime.datetime(2025, 12, 31, 20, 30, tzinfo=UTC),  # a new year in Shanghai
        datetime.datetime(2024, 2, 28, 18, 0, 0, 123, tzinfo=UTC),  # 29 February
    ],
)
def test_the_local_day_and_days_after_agree_with_python(handover, moment):
    Handover.objects.filter(pk=handover.pk).update(completed_at=moment)
    row = (
        Handover.objects.filter(pk=handover.pk)
        .annotate(day=LocalDate("completed_at"))
        .annotate(
            later=DaysAfter(F("day"), 30),
            earlier=DaysAfter(F("day"), -365),
            day_no=DayNumber(F("day")),
            fixed=DayNumber(Value(datetime.date(1970, 1, 2))),
        )
        .values("day", "later", "earlier", "day_no", "fixed")
        .get()
    )
    day = timezone.localtime(moment).date()
    assert row["day"] == day
    assert row["later"] == day + datetime.timedelta(days=30)
    assert row["earlier"] == day - datetime.timedelta(days=365)
    assert row["day_no"] == day_number(day) and row["fixed"] == 1
