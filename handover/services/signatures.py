"""Signatures: the signature as a person gives it, the password asked again, and the signatures the
procedure asks for on their own (approvals are signed with their transition)."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import auth
from accounts.models import User

from .. import flow, signing
from ..models import SIGNED_AT, Handover, Signature, SignatureMethod, SignaturePurpose
from ..notify import notice_if_ready
from . import archive
from .common import bump, lock_handover, log_event, require_state
from .errors import InvalidInput, NotAllowed, WrongState


@dataclass(frozen=True)
class SignatureInput:
    """A signature as a person gives it: drawn (a PNG data URL) or typed, and their password again."""

    method: str
    password: str = ""
    typed_name: str = ""
    image: str = ""
    ip_address: str | None = None
    user_agent: str = ""


def _check_password(user: User, signature: SignatureInput) -> None:
    """The password again, throttled like the login page: signing is no way round its lockout."""
    attempt = auth.LoginAttempt(user.username, signature.ip_address or "")
    if attempt.refused_for:
        raise InvalidInput(auth.lockout_message(attempt.refused_for), field="password")
    if not user.check_password(signature.password or ""):
        attempt.failed()
        raise InvalidInput(_("The password is not correct; nothing was signed."), field="password")
    attempt.succeeded()


def make_signature(h: Handover, *, user: User, purpose: str, signature: SignatureInput | None) -> Signature:
    """Check the signature given and store it against the data as it is now. The caller bumps and logs."""
    if signature is None:
        raise InvalidInput(
            _("Sign first: draw your signature or type your full name, and enter your password."), field="signature"
        )
    if signature.method not in SignatureMethod.values:
        raise InvalidInput(_("Choose how to sign: draw your signature or type your full name."), field="method")
    _check_password(user, signature)
    image, typed_name = b"", ""
    if signature.method == SignatureMethod.DRAWN:
        try:
            image = signing.signature_png(signature.image)
        except signing.BadImage as exc:
            raise InvalidInput(str(exc), field="image") from exc
    else:
        typed_name = " ".join((signature.typed_name or "").split())
        if not typed_name or typed_name != user.display_name:
            raise InvalidInput(
                _("Type your full name exactly as the system knows it: %(name)s.") % {"name": user.display_name},
                field="typed_name",
            )
    checker = signing.checker_for(h)
    content_sha256 = checker.content.sha256(purpose, user.pk)
    now = timezone.now()
    # The person's earlier signature for this purpose stays on record, no longer current.
    Signature.objects.filter(handover=h, signer=user, purpose=purpose, superseded_at__isnull=True).update(
        superseded_at=now
    )
    sig = Signature.objects.create(
        handover=h,
        signer=user,
        purpose=purpose,
        method=signature.method,
        typed_name=typed_name,
        image=image,
        content_sha256=content_sha256,
        handover_state=h.state,
        handover_version=h.version,
        signed_at=now,
        ip_address=signature.ip_address or None,
        user_agent=(signature.user_agent or "")[:300],
    )
    checker.record(sig)
    return sig


@transaction.atomic
def handover_sign(
    *,
    handover: Handover | int,
    user: User,
    purpose: str,
    signature: SignatureInput,
    expected_version: int | None = None,
) -> Signature:
    """A signature the procedure asks for on its own: a receiver's receipt of the materials, a
    receiver's record of the joint visits, a party's signature on the final checklist. Approvals
    are signed with handover_transition(signature=...)."""
    if purpose not in SIGNED_AT:
        if purpose in SignaturePurpose.values:
            raise InvalidInput(_("An approval is signed together with the approval itself."), field="purpose")
        raise InvalidInput(_("Unknown signature purpose “%(purpose)s”.") % {"purpose": purpose}, field="purpose")
    h = lock_handover(handover, expected_version)
    require_state(h, SIGNED_AT[purpose])
    checker = signing.checker_for(h)
    if user.pk not in checker.required_signers(purpose):
        raise NotAllowed(_("You are not asked to sign this for this handover."))
    unmet = flow.sign_unmet_message(purpose, signing.Facts(h, checker, signer_id=user.pk))
    if unmet:
        raise InvalidInput(unmet)
    existing = checker.current(purpose, user.pk)
    if existing is not None and checker.is_valid(existing):
        raise WrongState(_("You have already signed this, and nothing has changed since."))
    sig = make_signature(h, user=user, purpose=purpose, signature=signature)
    if purpose == SignaturePurpose.CHECKLIST and not signing.checker_for(h).missing(purpose):
        # The checklist's content is fixed now: its annex to the confirmation is printed ahead.
        handover_id = h.pk
        transaction.on_commit(lambda: archive.annex_soon(handover_id))
    bump(h)
    event = log_event(h, actor=user, kind="signed", purpose=purpose, method=sig.method, sha256=sig.content_sha256)
    # The last receipt, record or checklist signature lets the next person act: they hear it.
    notice_if_ready(h, event_id=event.pk, actor=user)
    return sig
