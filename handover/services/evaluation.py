"""The handover's evaluation (交接评估): the supervisor rates the materials' completeness, the
clients' feedback and the receiver's adaptation (1 to 5) with a comment, once.

The duty to do it is due EVALUATE_AFTER_DAYS after completion (reminders.duties_create); the
evaluation is accepted from the completion on (a supervisor who already knows need not wait), never
before, and closes that duty in the same transaction.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User

from .. import policy
from ..models import Duty, DutyKind, Handover, HandoverEvaluation, State
from .common import bump, lock_handover, log_event, require_state
from .errors import Conflict, InvalidInput, NotAllowed


def _score(value, field: str) -> int:
    try:
        score = int(value)
    except (TypeError, ValueError):
        score = 0
    if not 1 <= score <= 5 or str(value).strip() != str(score):
        raise InvalidInput(_("Give a score from 1 to 5."), field=field)
    return score


@transaction.atomic
def handover_evaluate(
    *, handover: Handover | int, user: User, materials, feedback, adaptation, comment: str
) -> HandoverEvaluation:
    h = lock_handover(handover)
    if not policy.may_evaluate(h, user):
        raise NotAllowed(_("Only the handover's supervisor evaluates it."))
    require_state(h, State.COMPLETED)
    if HandoverEvaluation.objects.filter(handover=h).exists():
        raise Conflict(_("This handover has already been evaluated."))
    scores = {
        "materials_score": _score(materials, "materials_score"),
        "feedback_score": _score(feedback, "feedback_score"),
        "adaptation_score": _score(adaptation, "adaptation_score"),
    }
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput(_("Write a comment on the handover."), field="comment")
    limit = HandoverEvaluation._meta.get_field("comment").max_length
    if len(comment) > limit:
        raise InvalidInput(
            _("The comment may be at most %(limit)d characters long.") % {"limit": limit}, field="comment"
        )
    now = timezone.now()
    try:
        with transaction.atomic():
            evaluation = HandoverEvaluation.objects.create(
                handover=h, evaluated_by=user, evaluated_at=now, comment=comment, **scores
            )
    except IntegrityError:
        raise Conflict(_("This handover has already been evaluated.")) from None
    Duty.objects.filter(handover=h, kind=DutyKind.EVALUATE_HANDOVER, done_at__isnull=True).update(
        done_at=now, done_by=user
    )
    bump(h)
    log_event(h, actor=user, kind="evaluated", **scores)
    return evaluation
