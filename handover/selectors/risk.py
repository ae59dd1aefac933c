"""Relationship risk per client of a handover: the factors, each with its reason in Chinese, and the
level they add up to (issue 15). The level's rule is here once (risk_level); the plan, the report,
the confirmation PDF, the API and the spot-check draw all read it from here.

What the data holds for each factor:
- one contact only: the client's contacts (none at all counts too);
- only the departing person followed up: follow-up records exist and none was recorded by anyone else
  (a record with no recorder, e.g. imported, is not counted as someone else's);
- the decision maker known only to them: no contact is marked key decision maker, or none of those
  marked has a follow-up recorded by anyone but the departing person, nor was met in a joint visit of
  this handover (the visit's contact met names them);
- open objections: an open deal with its main objections filled in, the client's answer to the
  handover notice asking for another contact or stating a concern, or the latest follow-up recording
  an objection. (Disputed checklist items are the receiver's, not the client's: not counted.)
- overdue receivables: outstanding and past their due date;
- a contract ending or up for renewal: an active contract whose end date is within 90 days (or past),
  or whose renewal date falls within the next 90 days;
- no contact in 60 days: no follow-up record dated within the last 60 days (or none at all).

Computed for a whole handover in one query (a subquery per figure), whatever its size.
"""

import datetime
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from clients.models import OPEN_STAGES, Contact, Contract, ContractStatus, FollowUp, Opportunity, Receivable
from clients.money import format_money

from ..choices import RiskLevel
from ..models import Handover, HandoverClient, NoticeAnswer, Visit

CONTRACT_HORIZON_DAYS = 90
QUIET_DAYS = 60
# The rule: how many signs make which level. The relationship resting on the departing person shows
# in three factors that nearly always come together in a book each salesperson keeps alone (one
# contact; only they followed up; the decision maker known only to them): they are one sign, however
# many of them hold. Each of the others (an open objection, money overdue, a contract ending, 60 days'
# silence) is a sign of its own. Four signs or more: high, and always phoned at the spot-check; two or
# three: medium; fewer: low. Counted factor by factor, nearly every client of a typical book was high
# and the spot-check's sample became the whole book.
ATTACHMENT = frozenset({"single_contact", "only_departing_followed", "decision_maker_only_departing"})
HIGH_FROM = 4
MEDIUM_FROM = 2

FACTORS = (
    "single_contact",
    "only_departing_followed",
    "decision_maker_only_departing",
    "open_objections",
    "overdue_receivables",
    "contract_ending",
    "no_recent_contact",
)
RANK = {RiskLevel.HIGH: 2, RiskLevel.MEDIUM: 1, RiskLevel.LOW: 0}


def factor_labels() -> dict[str, str]:
    """Each factor's short name, for the API schema and the explanation of the rule."""
    return {
        "single_contact": _("Only one contact"),
        "only_departing_followed": _("Only the departing person followed up"),
        "decision_maker_only_departing": _("Decision maker known only to the departing person"),
        "open_objections": _("Open objections"),
        "overdue_receivables": _("Overdue receivables"),
        "contract_ending": _("Contract ending or up for renewal within 90 days"),
        "no_recent_contact": _("No contact in 60 days"),
    }


def risk_signs(factors) -> int:
    """The signs these factors add up to: the attachment to the departing person once, the rest each."""
    codes = set(factors)
    return (1 if codes & ATTACHMENT else 0) + len(codes - ATTACHMENT)


def risk_level(factors) -> str:
    """The level of a client with these factors: the one rule."""
    n = risk_signs(factors)
    if n >= HIGH_FROM:
        return RiskLevel.HIGH
    if n >= MEDIUM_FROM:
        return RiskLevel.MEDIUM
    return RiskLevel.LOW


def rule_text() -> str:
    return _(
        "Risk level: the relationship resting on the departing person (one contact only, only they followed "
        "up, the decision maker known only to them) counts as one sign, each other factor as one; "
        "%(high)s or more signs high, %(medium)s or more medium, fewer low."
    ) % {
        "high": HIGH_FROM,
        "medium": MEDIUM_FROM,
    }


@dataclass(frozen=True)
class Factor:
    code: str
    reason: str


@dataclass
class ClientRisk:
    level: str = RiskLevel.LOW
    factors: list[Factor] = field(default_factory=list)

    @property
    def level_display(self) -> str:
        return str(RiskLevel(self.level).label)

    @property
    def rank(self) -> int:
        return RANK[self.level]

    @property
    def reasons(self) -> list[str]:
        return [f.reason for f in self.factors]


def _agg(queryset, expression):
    """One figure of the client's rows, as a subquery of the handover-client row."""
    return Subquery(queryset.order_by().annotate(v=expression).values("v")[:1])


def _of_client(queryset, client_field: str = "client"):
    return queryset.filter(**{client_field: OuterRef("client_id")}).order_by().values(client_field)


def client_risks(h: Handover, *, today: datetime.date | None = None) -> dict[int, ClientRisk]:
    """Each client's risk in this handover, by handover-client id: one query, whatever the size."""
    today = today or timezone.localdate()
    horizon = today + datetime.timedelta(days=CONTRACT_HORIZON_DAYS)
    by_others = Q(created_by__isnull=False) & ~Q(created_by_id=h.departing_id)
    follow_ups = _of_client(FollowUp.objects.all())
    deciders = Contact.objects.filter(client=OuterRef("client_id"), is_key_decision_maker=True)
    # A decision maker someone else knows: followed up by a colleague, or met in a joint visit of this
    # handover (the contact met names them).
    decider_known = deciders.filter(
        Exists(FollowUp.objects.filter(by_others, contact=OuterRef("pk")))
        | Exists(
            Visit.objects.filter(
                handover_client=OuterRef(OuterRef("pk")), superseded=False, contact_met__contains=OuterRef("name")
            )
        )
    )
    overdue = _of_client(Receivable.objects.overdue(today), "contract__client")
    ending = _of_client(
        Contract.objects.filter(status=ContractStatus.ACTIVE).filter(
            Q(end_date__lte=horizon) | Q(renewal_date__gte=today, renewal_date__lte=horizon)
        )
    )
    rows = (
        HandoverClient.objects.filter(handover=h)
        .order_by()
        .annotate(
            n_contacts=_agg(_of_client(Contact.objects.all()), Count("pk")),
            has_decider=Exists(deciders),
            decider_known=Exists(decider_known),
            fu_n=_agg(follow_ups, Count("pk")),
            fu_by_others=Exists(FollowUp.objects.filter(by_others, client=OuterRef("client_id"))),
            fu_last=_agg(follow_ups, Max("date")),
            objection_last=_agg(follow_ups.exclude(objections=""), Max("date")),
            deals=_agg(
                _of_client(Opportunity.objects.filter(stage__in=OPEN_STAGES).exclude(main_objections="")),
                Count("pk"),
            ),
            notice_answer=F("notice__answer"),
            od_n=_agg(overdue, Count("pk")),
            od_due=_agg(overdue, Sum("amount_due")),
            od_received=_agg(overdue, Sum("amount_received")),
            od_oldest=_agg(overdue, Min("due_date")),
            ct_n=_agg(ending, Count("pk")),
            ct_first_end=_agg(ending, Min("end_date")),
            ct_first_renewal=_agg(ending, Min("renewal_date")),
        )
        .values()
    )
    return {r["id"]: _risk_of(r, today, horizon) for r in rows}


def _risk_of(r: dict, today: datetime.date, horizon: datetime.date) -> ClientRisk:
    factors = []
    n = r["n_contacts"] or 0
    if n <= 1:
        reason = _("Only one contact on record") if n else _("No contact on record")
        factors.append(Factor("single_contact", reason))
    fu_n = r["fu_n"] or 0
    if fu_n and not r["fu_by_others"]:
        factors.append(
            Factor(
                "only_departing_followed",
                ngettext(
                    "Only the departing person ever followed up (%(n)s record)",
                    "Only the departing person ever followed up (%(n)s records)",
                    fu_n,
                )
                % {"n": fu_n},
            )
        )
    if not r["has_decider"]:
        factors.append(
            Factor(
                "decision_maker_only_departing",
                _("No key decision maker on record: only the departing person knows who decides"),
            )
        )
    elif not r["decider_known"]:
        factors.append(
            Factor(
                "decision_maker_only_departing",
                _("No one but the departing person has followed up with or met the key decision maker"),
            )
        )
    objections = []
    if r["deals"]:
        objections.append(
            ngettext("%(n)s open deal with objections", "%(n)s open deals with objections", r["deals"])
            % {"n": r["deals"]}
        )
    if r["notice_answer"] in (NoticeAnswer.OTHER_CONTACT, NoticeAnswer.CONCERN):
        objections.append(_("the client objected to the handover notice"))
    if r["objection_last"] and r["objection_last"] >= r["fu_last"]:
        objections.append(_("the latest follow-up recorded an objection"))
    if objections:
        factors.append(Factor("open_objections", _("Open objections: %(what)s") % {"what": "；".join(objections)}))
    if r["od_n"]:
        factors.append(
            Factor(
                "overdue_receivables",
                ngettext(
                    "%(n)s overdue receivable, %(amount)s outstanding, %(days)s days overdue at most",
                    "%(n)s overdue receivables, %(amount)s outstanding, %(days)s days overdue at most",
                    r["od_n"],
                )
                % {
                    "n": r["od_n"],
                    "amount": format_money(r["od_due"] - r["od_received"]),
                    "days": (today - r["od_oldest"]).days,
                },
            )
        )
    if r["ct_n"]:
        dates = [d for d in (r["ct_first_end"], r["ct_first_renewal"]) if d and d <= horizon]
        factors.append(
            Factor(
                "contract_ending",
                ngettext(
                    "%(n)s contract ending or up for renewal within 90 days (first on %(date)s)",
                    "%(n)s contracts ending or up for renewal within 90 days (first on %(date)s)",
                    r["ct_n"],
                )
                % {"n": r["ct_n"], "date": min(dates).isoformat() if dates else "—"},
            )
        )
    if r["fu_last"] is None:
        factors.append(Factor("no_recent_contact", _("Never followed up")))
    elif (today - r["fu_last"]).days > QUIET_DAYS:
        factors.append(
            Factor(
                "no_recent_contact",
                _("No follow-up in %(days)s days (last on %(date)s)")
                % {"days": (today - r["fu_last"]).days, "date": r["fu_last"].isoformat()},
            )
        )
    return ClientRisk(risk_level(f.code for f in factors), factors)


def by_risk(rows, risk_of) -> list:
    """Rows sorted high risk first (then as they came): the plan's and the API's sort."""
    return sorted(rows, key=lambda r: -RANK.get(risk_of(r), 0))
