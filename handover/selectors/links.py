"""A client's personal link with no login (handover.models.ClientLink): one mechanism, used by the
client notice (selectors/notices.py) and by the satisfaction survey (selectors/surveys.py).

The token is an HMAC of the row's random nonce under the site's secret key, salted per use: the
database holds the nonce and the token's SHA-256, never the token, so a copy of the database
alone opens no link, and a notice's token opens no survey. (Changing SECRET_KEY ends the links
already sent.)

The link's wording is one mechanism too: a template's email subject, letter and short text, its
{placeholders} filled in per client (link_texts).
"""

import hashlib
import secrets
from dataclasses import dataclass

from django.urls import reverse
from django.utils.crypto import salted_hmac

from .. import origin
from ..models import SHORT_TEXT_MAX

TOKEN_MAX = 100


def link_token(salt: str, nonce: str) -> str:
    return salted_hmac(salt, nonce, algorithm="sha256").hexdigest()[:40]


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_link(model, salt: str, **fields):
    """An unsaved link row with a fresh nonce and the SHA-256 of its token."""
    link = model(nonce=secrets.token_hex(32), **fields)
    link.token_sha256 = token_sha256(link_token(salt, link.nonce))
    return link


def link_for_token(queryset, token: str):
    """The row of `queryset` this token opens, or None."""
    if not token or len(token) > TOKEN_MAX:
        return None
    return queryset.filter(token_sha256=token_sha256(token)).first()


@dataclass(frozen=True)
class LinkKind:
    """One use of the link (the notice, the survey): its rows, its salt, the client's page."""

    model: type
    salt: str
    url_name: str

    def rows(self):
        """The links with what their page and their wording read."""
        return self.model.objects.select_related(
            "handover_client__client", "handover_client__receiver", "handover_client__handover__departing"
        )

    def new(self, **fields):
        return new_link(self.model, self.salt, **fields)

    def token(self, link) -> str:
        return link_token(self.salt, link.nonce)

    def for_token(self, token: str):
        """The link this token opens, or None (a wrong token, another use's token, a removed client)."""
        return link_for_token(self.rows(), token)

    def path(self, link) -> str:
        return reverse(self.url_name, args=[self.token(link)])

    def url(self, link, recorded_site: str = "") -> str:
        return origin.site_url(recorded_site) + self.path(link)


# ---------------------------------------------------------------------------------------
# The wording


class Keep(dict):
    """Placeholder values that leave an unknown {name} as it stands."""

    def __missing__(self, key):
        return "{" + key + "}"


@dataclass
class LinkTexts:
    subject: str
    letter: str
    short: str
    link: str
    values: dict


def link_texts(template, values: Keep, link: str) -> LinkTexts:
    """A template's wording (email_subject, letter, short_text) with the placeholders filled in."""
    return LinkTexts(
        # One line: a line break in a mail header is refused.
        subject=" ".join(_fill(template.email_subject, values).split())[:200],
        letter=_fill(template.letter, values),
        short=short_text(template.short_text, values, link),
        link=link,
        values=dict(values),
    )


def short_text(text: str, values: dict, link: str) -> str:
    """An SMS text filled in, at most SHORT_TEXT_MAX characters: cut before the link when longer."""
    short = _fill(text, values)
    if len(short) > SHORT_TEXT_MAX:
        without = _fill(text, Keep(values, link=""))
        room = SHORT_TEXT_MAX - len(link) - 2
        short = (without[: max(room, 0)].rstrip() + "…" + " " + link)[:SHORT_TEXT_MAX]
    return short


def _fill(text: str, values: dict) -> str:
    try:
        return (text or "").format_map(values)
    except (ValueError, IndexError, AttributeError):
        # The admin refuses a malformed template (the templates' clean); one saved some other
        # way is used as it is rather than lose the message.
        return text or ""
