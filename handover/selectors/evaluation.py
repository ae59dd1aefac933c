"""The handover's evaluation (交接评估) as its page and the API show it."""

import datetime
from dataclasses import dataclass

from django.utils import timezone

from .. import policy
from ..models import EVALUATE_AFTER_DAYS, Handover, HandoverEvaluation


@dataclass(frozen=True)
class EvaluationPanel:
    evaluation: HandoverEvaluation | None
    # The supervisor, once completed, while there is none yet.
    may_evaluate: bool
    # When the supervisor is asked to have done it (completion + EVALUATE_AFTER_DAYS); None before completion.
    due_on: datetime.date | None


def evaluation_panel(h: Handover, user) -> EvaluationPanel:
    evaluation = HandoverEvaluation.objects.select_related("evaluated_by").filter(handover=h).first()
    due_on = None
    if h.is_completed and h.completed_at:
        due_on = timezone.localdate(h.completed_at) + datetime.timedelta(days=EVALUATE_AFTER_DAYS)
    may = evaluation is None and h.is_completed and policy.may_evaluate(h, user)
    return EvaluationPanel(evaluation, may, due_on)
