"""Relationship risk per client (handover/selectors/risk.py): each factor on its own, the level's rule,
the queries for a whole handover, and the spot-check sample that always takes the clients at high risk."""

import datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clients.models import Contact, Contract, FollowUp, Opportunity, Receivable
from clients.tests.factories import (
    ClientFactory,
    ContactFactory,
    ContractFactory,
    FollowUpFactory,
    OpportunityFactory,
    ReceivableFactory,
)
from handover import selectors, services
from handover.choices import RiskLevel
from handover.models import ClientNotice, HandoverClient, NoticeAnswer, State, Visit
from handover.selectors.risk import ATTACHMENT, FACTORS
from handover.tests.risk_helpers import calm
from tests.walk import advance_to

TODAY = timezone.localdate()


def _quiet(hc: HandoverClient, h) -> None:
    """Make one client of the book low risk: a second contact, the decision maker, followed up five days
    ago by a colleague and met in a joint visit, every receivable paid, the contract running for years."""
    client = hc.client
    decider = ContactFactory(client=client, name="张总", is_key_decision_maker=True)
    FollowUpFactory(client=client, date=TODAY - datetime.timedelta(days=5), contact=decider, created_by=h.receiver)
    Visit.objects.create(
        handover_client=hc,
        visited_on=TODAY,
        contact_met="张总（总经理）",
        outcome="介绍了新对接人",
        recorded_by=h.departing,
    )
    Receivable.objects.filter(contract__client=client).update(amount_received=Decimal("30000.00"))
    Contract.objects.filter(client=client).update(end_date=TODAY + datetime.timedelta(days=800))


def _risk(h, hc):
    return selectors.client_risks(h, today=TODAY)[hc.pk]


@pytest.fixture
def quiet(handover):
    hc = handover.clients.filter(grade="B").select_related("client").first()
    _quiet(hc, handover)
    return hc


def test_a_quiet_client_is_low_risk_with_no_factor(handover, quiet):
    risk = _risk(handover, quiet)
    assert risk.level == RiskLevel.LOW and risk.factors == []


def _single_contact(h, hc):
    Contact.objects.filter(client=hc.client, is_key_decision_maker=False).delete()


def _only_departing(h, hc):
    FollowUp.objects.filter(client=hc.client).update(created_by=h.departing)


def _decider_unknown(h, hc):
    Contact.objects.filter(client=hc.client).update(is_key_decision_maker=False)


def _deal_objection(h, hc):
    Opportunity.objects.filter(client=hc.client).update(main_objections="价格高于竞品")


def _overdue(h, hc):
    Receivable.objects.filter(contract__client=hc.client).update(amount_received=Decimal("0.00"))


def _contract_ending(h, hc):
    Contract.objects.filter(client=hc.client).update(end_date=TODAY + datetime.timedelta(days=60))


def _quiet_for_long(h, hc):
    FollowUp.objects.filter(client=hc.client).update(date=TODAY - datetime.timedelta(days=61))


TOGGLES = {
    "single_contact": _single_contact,
    "only_departing_followed": _only_departing,
    "decision_maker_only_departing": _decider_unknown,
    "open_objections": _deal_objection,
    "overdue_receivables": _overdue,
    "contract_ending": _contract_ending,
    "no_recent_contact": _quiet_for_long,
}


def test_every_factor_has_its_toggle():
    assert set(TOGGLES) == set(FACTORS)


@pytest.mark.parametrize("factor", list(TOGGLES))
def test_each_factor_on_its_own_is_named_with_its_reason(handover, quiet, factor):
    TOGGLES[factor](handover, quiet)
    risk = _risk(handover, quiet)
    assert [f.code for f in risk.factors] == [factor]
    assert risk.reasons[0]  # each factor says why, in words
    assert risk.level == RiskLevel.LOW  # one sign alone: the level's rule wants two


def _from_other_signs(factor: str, n: int) -> list[str]:
    """n factors, each a sign of its own and none the same sign as `factor` (the three factors of the
    attachment to the departing person are one sign)."""
    business = [f for f in TOGGLES if f not in ATTACHMENT and f != factor]
    attachment = [] if factor in ATTACHMENT else ["only_departing_followed"]
    return (attachment + business)[:n]


@pytest.mark.parametrize("factor", list(TOGGLES))
def test_each_factor_is_the_one_that_tips_a_client_to_medium(handover, quiet, factor):
    [other] = _from_other_signs(factor, 1)
    TOGGLES[other](handover, quiet)
    assert _risk(handover, quiet).level == RiskLevel.LOW
    TOGGLES[factor](handover, quiet)
    assert _risk(handover, quiet).level == RiskLevel.MEDIUM


@pytest.mark.parametrize("factor", list(TOGGLES))
def test_each_factor_tips_three_other_signs_to_high(handover, quiet, factor):
    others = _from_other_signs(factor, 3)
    for other in others:
        TOGGLES[other](handover, quiet)
    assert _risk(handover, quiet).level == RiskLevel.MEDIUM
    TOGGLES[factor](handover, quiet)
    risk = _risk(handover, quiet)
    assert {f.code for f in risk.factors} == {*others, factor}
    assert risk.level == RiskLevel.HIGH


def test_the_attachment_to_the_departing_person_is_one_sign_however_many_of_its_factors_hold(handover, quiet):
    for factor in ("single_contact", "only_departing_followed"):
        TOGGLES[factor](handover, quiet)
    risk = _risk(handover, quiet)
    assert {f.code for f in risk.factors} == {"single_contact", "only_departing_followed"}
    assert risk.level == RiskLevel.LOW  # one sign, both named
    TOGGLES["overdue_receivables"](handover, quiet)
    assert _risk(handover, quiet).level == RiskLevel.MEDIUM


def test_the_level_rule():
    assert selectors.risk_level([]) == RiskLevel.LOW
    assert selectors.risk_level(["overdue_receivables"]) == RiskLevel.LOW
    assert selectors.risk_level(sorted(ATTACHMENT)) == RiskLevel.LOW
    assert selectors.risk_level(["overdue_receivables", "single_contact"]) == RiskLevel.MEDIUM
    assert selectors.risk_level(["overdue_receivables", "open_objections", *ATTACHMENT]) == RiskLevel.MEDIUM
    business = ["open_objections", "overdue_receivables", "contract_ending"]
    assert selectors.risk_level([*business, "single_contact"]) == RiskLevel.HIGH
    assert selectors.risk_level([*business, "no_recent_contact"]) == RiskLevel.HIGH


def test_the_decision_maker_followed_up_only_by_the_departing_person_and_never_met_counts(handover, quiet):
    FollowUp.objects.filter(client=quiet.client).update(created_by=handover.departing)
    assert [f.code for f in _risk(handover, quiet).factors] == ["only_departing_followed"]  # met in the visit
    Visit.objects.filter(handover_client=quiet).update(superseded=True)
    assert {f.code for f in _risk(handover, quiet).factors} == {
        "only_departing_followed",
        "decision_maker_only_departing",
    }


def test_a_follow_up_with_no_recorder_is_not_someone_elses(handover, quiet):
    FollowUp.objects.filter(client=quiet.client).update(created_by=None)
    assert [f.code for f in _risk(handover, quiet).factors] == ["only_departing_followed"]


def test_the_clients_objection_to_the_notice_is_open(handover, quiet):
    ClientNotice.objects.create(
        handover_client=quiet, nonce="n", token_sha256="t" * 64, answer=NoticeAnswer.CONCERN, answer_text="担心服务"
    )
    assert [f.code for f in _risk(handover, quiet).factors] == ["open_objections"]
    ClientNotice.objects.filter(handover_client=quiet).update(answer=NoticeAnswer.CONFIRMED)
    assert _risk(handover, quiet).factors == []


def test_an_objection_in_the_latest_follow_up_is_open_an_earlier_one_is_not(handover, quiet):
    FollowUp.objects.filter(client=quiet.client).update(objections="交期太长")
    assert [f.code for f in _risk(handover, quiet).factors] == ["open_objections"]
    FollowUpFactory(client=quiet.client, date=TODAY, created_by=handover.receiver)
    assert _risk(handover, quiet).factors == []


def test_a_closed_deal_with_objections_is_not_open(handover, quiet):
    Opportunity.objects.filter(client=quiet.client).update(main_objections="价格", stage="lost")
    assert _risk(handover, quiet).factors == []


def test_a_renewal_within_90_days_counts_a_terminated_contract_does_not(handover, quiet):
    Contract.objects.filter(client=quiet.client).update(renewal_date=TODAY + datetime.timedelta(days=89))
    assert [f.code for f in _risk(handover, quiet).factors] == ["contract_ending"]
    Contract.objects.filter(client=quiet.client).update(status="terminated")
    assert _risk(handover, quiet).factors == []


def _handover_of(start, people, n: int):
    for c in people.departing.owned_clients.all():
        c.owner = people.hr
        c.save()
    for i in range(n):
        c = ClientFactory(owner=people.departing, grade="B")
        ContactFactory(client=c, is_key_decision_maker=i % 2 == 0)
        ReceivableFactory(contract=ContractFactory(client=c))
        OpportunityFactory(client=c, main_objections="价格")
        FollowUpFactory(client=c, created_by=people.receiver, objections="交期")
    return start()


@pytest.mark.parametrize("n", [3, 12])
def test_the_risks_of_a_whole_handover_take_the_same_queries_whatever_its_size(start, people, book, n):
    h = _handover_of(start, people, n)
    with CaptureQueriesContext(connection) as queries:
        risks = selectors.client_risks(h, today=TODAY)
    assert len(risks) == n
    assert len(queries) == 1


# ---------------------------------------------------------------------------------------
# The spot-check sample


def _make_high(hc):
    """A calmed client (overdue, contract ending) never followed up and with an objection on a deal."""
    FollowUp.objects.filter(client=hc.client).delete()
    Opportunity.objects.filter(client=hc.client).update(main_objections="价格高于竞品")


def test_a_high_risk_client_below_a_is_always_drawn(handover):
    calm(handover)
    risky = handover.clients.filter(grade="C").first()
    _make_high(risky)
    h = advance_to(handover, State.SPOT_CHECK)
    risky.refresh_from_db()
    assert risky.sample_risk == RiskLevel.HIGH and risky.in_sample
    hcs = list(h.clients.all())
    assert all(risky.pk in services.draw_sample(hcs, seed) for seed in range(50))
    # The others below A are at medium risk: a share of them, as before.
    others = [hc for hc in hcs if hc.grade != "A" and hc.pk != risky.pk]
    assert {hc.sample_risk for hc in others} == {RiskLevel.MEDIUM}
    assert sum(hc.in_sample for hc in others) == 3


def test_a_medium_risk_client_is_not_always_drawn(handover):
    calm(handover)
    h = advance_to(handover, State.SPOT_CHECK)
    hcs = list(h.clients.all())
    drawn_each_time = set.intersection(*(services.draw_sample(hcs, seed) for seed in range(50)))
    assert drawn_each_time == {hc.pk for hc in hcs if hc.grade == "A"}


def test_the_risk_stored_with_the_draw_is_what_a_redraw_uses(handover):
    calm(handover)
    risky = handover.clients.filter(grade="C").first()
    _make_high(risky)
    h = advance_to(handover, State.SPOT_CHECK)
    drawn = set(h.clients.filter(in_sample=True).values_list("pk", flat=True))
    # Since the draw, the risky client was followed up, and the B clients turned high (at least one of
    # the four was not drawn: three of the seven others were): the risks today differ, the redraw from
    # the stored seed and risks does not.
    FollowUpFactory(client=risky.client, date=TODAY, contact=None, created_by=h.receiver)
    for hc in h.clients.filter(grade="B"):
        _make_high(hc)
    now = selectors.client_risks(h, today=TODAY)
    assert now[risky.pk].level != RiskLevel.HIGH
    turned_high = [hc.pk for hc in h.clients.filter(grade="B") if now[hc.pk].level == RiskLevel.HIGH]
    assert len(turned_high) == 4 and set(turned_high) - drawn
    assert services.draw_sample(list(h.clients.all()), h.sample_seed) == drawn
    assert HandoverClient.objects.get(pk=risky.pk).sample_risk == RiskLevel.HIGH
