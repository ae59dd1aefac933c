import datetime
from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Department, User
from accounts.roles import Role
from clients.models import (
    AgingBucket,
    Client,
    Contact,
    Contract,
    FollowUp,
    Opportunity,
    OwnershipChange,
    Receivable,
)
from clients.validators import validate_credit_code
from demo.company import DEMO_LOGINS, DEMO_PASSWORD, DEPARTING_USERNAME, build_demo_book

MODELS = (Department, User, Client, Contact, Contract, Receivable, Opportunity, FollowUp, OwnershipChange)


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in MODELS}


@pytest.fixture
def seeded(db):
    seed()


def test_it_builds_the_whole_demo_company(seeded):
    assert Department.objects.count() >= 3
    assert all(d.head is not None and d.head.has_role(Role.SUPERVISOR) for d in Department.objects.all())
    assert User.objects.count() >= 12
    for role in Role:
        assert User.objects.filter(groups__name=role).exists(), role
    assert User.objects.filter(is_superuser=True, is_staff=True, groups__name=Role.ADMIN).exists()
    assert Client.objects.count() >= 150
    assert set(Client.objects.values_list("grade", flat=True)) == {"A", "B", "C"}
    assert Contact.objects.count() >= Client.objects.count()
    assert Contract.objects.exists()
    assert Receivable.objects.exists()
    assert Opportunity.objects.exists()
    assert FollowUp.objects.count() >= 2 * Client.objects.count()
    # Every client's first owner, plus the moves of the demo's completed handover.
    assert OwnershipChange.objects.filter(from_owner__isnull=True).count() == Client.objects.count()


def test_it_leaves_handovers_at_several_stages(seeded):
    from handover.models import Handover, State

    states = dict(Handover.objects.values_list("departing__username", "state"))
    assert states == {
        "liuyang": State.MATERIALS,
        "hejun": State.SPOT_CHECK,
        "linfang": State.REPORT_APPROVAL,
        "zhoujie": State.COMPLETED,
        # A cover (代管): Xu Ting's maternity leave, Wu Min holds her clients until her return date.
        "xuting": State.COMPLETED,
        # Completed months ago (demo/history.py).
        "gaofeng": State.COMPLETED,
        "songyu": State.COMPLETED,
        "tangli": State.COMPLETED,
    }
    # Li Hua's own handover is for HR to start in the demo.
    assert not Handover.objects.filter(departing__username=DEPARTING_USERNAME).exists()
    zhoujie = Handover.objects.get(departing__username="zhoujie")
    assert not Client.objects.filter(owner=zhoujie.departing).exists()
    assert zhoujie.clients.values("receiver").distinct().count() == 2
    cover = Handover.objects.get(departing__username="xuting")
    assert cover.cover_status == "active" and cover.returns_on > timezone.localdate()
    assert not Client.objects.filter(owner=cover.departing).exists()


def test_the_departing_salesperson_has_a_big_book_and_colleagues_to_receive_it(seeded):
    departing = User.objects.get(username=DEPARTING_USERNAME)
    book = Client.objects.filter(owner=departing)
    assert book.count() >= 40
    assert book.filter(grade="A").count() >= 5
    colleagues = User.objects.filter(department=departing.department, groups__name=Role.SALES).exclude(pk=departing.pk)
    assert colleagues.count() >= 2
    assert departing.supervisor == departing.department.head


def test_receivables_are_overdue_in_every_aging_bucket(seeded):
    today = timezone.localdate()
    overdue = Receivable.objects.overdue(today)
    buckets = {r.aging_bucket(today) for r in overdue}
    assert buckets == {AgingBucket.D0_30, AgingBucket.D31_90, AgingBucket.D91_180, AgingBucket.D180_PLUS}
    departing_buckets = {r.aging_bucket(today) for r in overdue.filter(contract__client__owner__username="lihua")}
    assert departing_buckets == buckets
    assert Receivable.objects.filter(amount_received=0).exists()
    assert Receivable.objects.exclude(pk__in=Receivable.objects.outstanding()).exists()  # some fully paid


def test_every_row_passes_its_field_validation(seeded):
    codes = list(Client.objects.values_list("credit_code", flat=True))
    assert len(set(codes)) == len(codes)
    for code in codes:
        validate_credit_code(code)
    for model in (Client, Contact, Contract, Receivable, Opportunity, FollowUp):
        for obj in model.objects.all():
            obj.clean_fields()
    for contract in Contract.objects.prefetch_related("receivables"):
        assert contract.signed_on <= contract.start_date <= contract.end_date
        assert contract.amount_paid == sum(r.amount_received for r in contract.receivables.all())
        assert contract.amount == sum(r.amount_due for r in contract.receivables.all())


def test_every_demo_login_works(seeded):
    for username in DEMO_LOGINS:
        assert User.objects.filter(username=username, is_active=True).exists(), username
    assert authenticate(username="lihua", password=DEMO_PASSWORD) is not None


def test_running_it_twice_adds_nothing(seeded):
    before = counts()
    output = seed()
    assert counts() == before
    assert "nothing to add" in output


def test_it_keeps_what_the_demo_changed(seeded):
    client = Client.objects.filter(owner__username="lihua").first()
    client.owner = User.objects.get(username="zhangwei")
    client.save()
    seed()
    client.refresh_from_db()
    assert client.owner.username == "zhangwei"


def test_it_is_deterministic(seeded):
    first = sorted(Client.objects.values_list("name", "credit_code", "grade", "owner__username"))
    first_contracts = sorted(Contract.objects.values_list("number", "amount", "signed_on"))
    from handover.models import Handover

    Handover.objects.all().delete()
    Client.objects.all().delete()
    seed()
    assert sorted(Client.objects.values_list("name", "credit_code", "grade", "owner__username")) == first
    assert sorted(Contract.objects.values_list("number", "amount", "signed_on")) == first_contracts


def test_the_book_does_not_depend_on_the_day_except_for_dates():
    today = timezone.localdate()
    one = build_demo_book(today)
    other = build_demo_book(today - datetime.timedelta(days=200))
    assert [(b.client.name, b.client.credit_code) for b in one] == [
        (b.client.name, b.client.credit_code) for b in other
    ]
    assert [[c.number[-4:] for c, _ in b.contracts] for b in one] == [
        [c.number[-4:] for c, _ in b.contracts] for b in other
    ]


def test_the_demo_visits_are_events_with_no_email_owed(seeded):
    from handover.models import VisitInvitation
    from handover.services import pending_invitation_ids

    assert VisitInvitation.objects.exists()
    assert pending_invitation_ids() == []
