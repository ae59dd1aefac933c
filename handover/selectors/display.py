"""What the sections of the pages share: choice labels, local times, URL patterns, cheap rows."""

import datetime

from django.urls import reverse

_MARK = 987654321


def url_pattern(name: str, *args) -> str:
    # reverse() once per page, then str.format per row: a reverse() for each of thousands of
    # rows would cost more than rendering the rows.
    return reverse(name, args=[*args, _MARK]).replace(str(_MARK), "{}")


def labels(choices) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


def local_time(at: datetime.datetime, tz) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")


class Row:
    """Rows of the long checklist and timeline.

    The template engine first tries row[name] and only then getattr(); for a plain object the
    first try raises, and with thousands of rows on a 500-client page the exceptions alone
    cost more than the page may. Answering row[name] directly keeps each lookup cheap.
    """

    def __getitem__(self, name: str):
        return getattr(self, name)
