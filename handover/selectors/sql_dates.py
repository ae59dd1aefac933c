"""Date arithmetic done by the database itself, the same on SQLite and PostgreSQL.

Django's TruncDate and date + timedelta are native SQL on PostgreSQL, but on SQLite they call
Python functions registered on the connection (django_datetime_cast_date, django_format_dtdelta):
once per row and per use, which made the dashboard's outcome queries spend seconds converting
dates. These two say the same in SQLite's own date functions.
"""

import datetime
import zoneinfo

from django.conf import settings
from django.db.models import DateField, Func, IntegerField
from django.db.models.functions import TruncDate


def _fixed_offset_minutes() -> int | None:
    """The site's time zone's offset from UTC in minutes, if it is the same all year (Asia/Shanghai:
    +480, no daylight saving since 1991); None for a zone with daylight saving."""
    zone = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    year = datetime.date.today().year
    offsets = {datetime.datetime(year, month, 1, tzinfo=zone).utcoffset() for month in (1, 7)}
    if len(offsets) != 1:
        return None
    return int(offsets.pop().total_seconds() // 60)


class LocalDate(TruncDate):
    """The local calendar day of a stored moment (as TruncDate, in the current time zone's terms).

    SQLite keeps moments as UTC text (YYYY-MM-DD HH:MM:SS.ffffff): date(moment, '+480 minutes') is
    the day in Shanghai. A zone with daylight saving falls back to Django's own (slower) function."""

    def as_sqlite(self, compiler, connection, **extra_context):
        minutes = _fixed_offset_minutes() if self.get_tzname() == settings.TIME_ZONE else None
        if minutes is None:
            return self.as_sql(compiler, connection)
        sql, params = compiler.compile(self.lhs)
        # Whole seconds first: SQLite rounds microseconds to milliseconds, so 23:59:59.9999 would
        # become the next day.
        return f"date(substr({sql}, 1, 19), '{minutes:+d} minutes')", params


class DaysAfter(Func):
    """A date expression plus a whole number of days (negative: before), as a date."""

    output_field = DateField()

    def __init__(self, expression, days: int, **extra):
        super().__init__(expression, **extra)
        self.days = int(days)

    def as_sql(self, compiler, connection, **extra_context):
        # PostgreSQL (and standard SQL): date + integer is a date.
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} + {self.days:d})", params

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"date({sql}, '{self.days:+d} days')", params


class DayNumber(Func):
    """A date as a whole number of days since 1970-01-01 (date.toordinal() - EPOCH_ORDINAL in Python),
    so that windows of days are integer arithmetic in either database."""

    output_field = IntegerField()

    @staticmethod
    def template(vendor: str) -> str:
        if vendor == "sqlite":
            return "CAST(julianday({}) - 2440587.5 AS INTEGER)"
        return "({} - DATE '1970-01-01')"

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return self.template(connection.vendor).format(sql), params


EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()


def day_number(day: datetime.date) -> int:
    return day.toordinal() - EPOCH_ORDINAL
