"""A client's personal link with no login (handover.models.ClientLink): one mechanism, used by the
client notice (selectors/notices.py) and by the satisfaction survey (selectors/surveys.py).

The token is an HMAC of the row's random nonce under the site's secret key, salted per use: the
database holds the nonce and the token's SHA-256, never the token, so a copy of the database
alone opens no link, and a notice's token opens no survey. (Changing SECRET_KEY ends the links
already sent.)
"""

import hashlib
import secrets

from django.utils.crypto import salted_hmac

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
