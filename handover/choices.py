"""The values of the handover's records that the rules of the procedure look at.

They live apart from models.py because handover/rules.py reads them and models.py calls the
rules in its transition conditions: rules cannot import models.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ItemStatus(models.TextChoices):
    PENDING = "pending", _("Not yet handed over")
    HANDED_OVER = "handed_over", _("Handed over")
    CONFIRMED = "confirmed", _("Confirmed by receiver")
    DISPUTED = "disputed", _("Disputed")


class VisitMode(models.TextChoices):
    IN_PERSON = "in_person", _("Visit in person")
    JOINT_CALL = "joint_call", _("Joint call")


class CallResult(models.TextChoices):
    CONFIRMED = "confirmed", _("Client confirmed the handover")
    UNAWARE = "unaware", _("Client unaware")
    UNREACHABLE = "unreachable", _("Unreachable")


class RiskLevel(models.TextChoices):
    """A client's relationship risk (handover/selectors/risk.py decides it from the factors)."""

    LOW = "low", pgettext_lazy("risk", "Low")
    MEDIUM = "medium", pgettext_lazy("risk", "Medium")
    HIGH = "high", pgettext_lazy("risk", "High")
