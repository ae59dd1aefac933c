"""API tokens, kept by django-rest-knox: hashed at rest, one per request for one, each expiring.

A token expires API_TOKEN_TTL_DAYS after it was given (settings.REST_KNOX, not renewed by
use), and every token of a person dies when their password changes or their account is
deactivated (accounts/signals.py): whoever holds an old token must log in again with the
new password. They are sent as "Authorization: Token <token>".
"""

import datetime

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox import auth as knox_auth
from knox.models import AuthToken
from rest_framework import exceptions


class TokenAuthentication(knox_auth.TokenAuthentication):
    def authenticate_credentials(self, token: bytes):
        # Knox decodes the header as UTF-8 and would crash (500) on other bytes: a bad token is a 401.
        try:
            token.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed() from exc
        return super().authenticate_credentials(token)


class TokenScheme(OpenApiAuthenticationExtension):
    """The token in the OpenAPI document, under the name the schema has always given it."""

    target_class = "accounts.tokens.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.authenticate_header(None)
        )


def api_token_create(*, user) -> tuple[str, datetime.datetime]:
    """A new token for this person, and when it expires. Only its hash is stored."""
    instance, token = AuthToken.objects.create(user=user)
    return token, instance.expiry


def api_tokens_delete(*, user_ids) -> int:
    """Every API token of these people ends now."""
    deleted, _by_model = AuthToken.objects.filter(user_id__in=list(user_ids)).delete()
    return deleted
