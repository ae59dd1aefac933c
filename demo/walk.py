"""Walk a handover forward through the procedure, each step done by the person who must do it.

The demo data, the tests and the benchmarks use this to put handovers at a given stage; every
step goes through the same services as the pages and the API. Where the procedure asks for a
signature, each person signs with their typed name and their password (signature_of), checked
and throttled as on the page: the walk is given the password its people were made with (the
demo's DEMO_PASSWORD, the tests' DEFAULT_PASSWORD, the benchmarks' BENCH_PASSWORD), so no way
round the password check is needed in the services.
"""

import contextlib
import datetime
from unittest import mock

from django.contrib.auth import hashers
from django.utils import timezone

from handover import services, signing
from handover.models import APPROVAL_SIGNATURES, CallResult, Handover, ItemStatus, SignaturePurpose, State, VisitMode

ORDER = [
    State.PLAN,
    State.PLAN_REVIEW,
    State.PLAN_APPROVAL,
    State.MATERIALS,
    State.MATERIALS_REVIEW,
    State.VISITS,
    State.VISITS_REVIEW,
    State.SPOT_CHECK,
    State.REPORT,
    State.REPORT_REVIEW,
    State.REPORT_APPROVAL,
    State.COMPLETED,
]


def signature_of(user, password: str) -> services.SignatureInput:
    """A typed signature by this person, with their password, as they would give it on the page."""
    return services.SignatureInput(method="typed", typed_name=user.display_name, password=password)


def sign_missing(h: Handover, purpose: str, *, password: str) -> None:
    """Everyone who still has to sign for this purpose (or sign again) signs."""
    h = Handover.objects.get(pk=h.pk)
    User = type(h.departing)
    for user_id in signing.SignatureChecker(h).missing(purpose):
        user = User.objects.get(pk=user_id)
        services.handover_sign(handover=h.pk, user=user, purpose=purpose, signature=signature_of(user, password))


def _fill_plan(h: Handover, password: str) -> None:
    for hc in h.clients.select_related("client"):
        services.handover_client_update_plan(
            handover_client=hc,
            user=h.departing,
            current_status=hc.current_status or f"{hc.client.name}：合作正常，订单按期执行。",
            risks=hc.risks or "竞争对手近期接触客户采购部。",
            next_steps=hc.next_steps or "与接收人共同拜访，介绍新对接人。",
            planned_visit_on=hc.planned_visit_on or min(h.last_working_day, timezone.localdate()),
        )


def _materials(h: Handover, password: str) -> None:
    services.items_hand_over_all(handover=h, user=h.departing)
    receiver_ids = set(h.items.filter(status=ItemStatus.HANDED_OVER).values_list("receiver_id", flat=True))
    for receiver in type(h.departing).objects.filter(pk__in=receiver_ids):
        services.items_confirm_all(handover=h, user=receiver)
    sign_missing(h, SignaturePurpose.MATERIALS_RECEIPT, password=password)


def _visits(h: Handover, password: str) -> None:
    today = timezone.localdate()
    for hc in h.clients.select_related("client", "receiver"):
        done = hc.visits.filter(
            superseded=False, departing_confirmed_at__isnull=False, receiver_confirmed_at__isnull=False
        )
        if done.exists():
            continue
        visit = services.visit_record(
            handover_client=hc,
            user=h.departing,
            visited_on=today - datetime.timedelta(days=1),
            mode=VisitMode.IN_PERSON if hc.grade == "A" else VisitMode.JOINT_CALL,
            contact_met=hc.client.contacts.values_list("name", flat=True).first() or "采购负责人",
            outcome="已当面介绍新对接人，客户表示认可。",
            concerns="希望价格政策保持不变。",
        )
        services.visit_confirm(visit=visit, user=hc.receiver)
    sign_missing(h, SignaturePurpose.VISITS, password=password)


def _spot_check(h: Handover, password: str) -> None:
    for hc in h.clients.filter(in_sample=True):
        services.phone_check_record(handover_client=hc, user=h.witness, result=CallResult.CONFIRMED, note="")


def _report(h: Handover, password: str) -> None:
    services.report_update(
        handover=h,
        user=h.departing,
        summary="全部客户已完成交接，重点客户均已共同拜访。",
        open_risks="个别客户存在逾期应收款，需接收人跟进催收。",
        advice="优先跟进A类客户的续约。",
    )


def _sign_checklist(h: Handover, password: str) -> None:
    sign_missing(h, SignaturePurpose.CHECKLIST, password=password)


# For each state: what the people do there, then the transition that leaves it forward.
STEPS = {
    State.PLAN: (_fill_plan, "submit_plan", "departing"),
    State.PLAN_REVIEW: (None, "approve_plan_review", "supervisor"),
    State.PLAN_APPROVAL: (None, "approve_plan", "manager"),
    State.MATERIALS: (_materials, "submit_materials", "departing"),
    State.MATERIALS_REVIEW: (None, "approve_materials", "supervisor"),
    State.VISITS: (_visits, "submit_visits", "departing"),
    State.VISITS_REVIEW: (None, "approve_visits", "supervisor"),
    State.SPOT_CHECK: (_spot_check, "finish_spot_check", "witness"),
    State.REPORT: (_report, "submit_report", "departing"),
    State.REPORT_REVIEW: (None, "approve_report_review", "supervisor"),
    State.REPORT_APPROVAL: (_sign_checklist, "approve_report", "manager"),
}


def do_stage_work(h: Handover, *, password: str) -> None:
    """Do what the people at the current state must do, without moving it on."""
    work = STEPS[State(h.state)][0]
    if work:
        work(h, password)


def advance_to(h: Handover, target: str, *, password: str) -> Handover:
    while h.state != target:
        if h.state not in STEPS:
            raise ValueError(f"cannot walk from {h.state} to {target}")
        work, name, role = STEPS[State(h.state)]
        if work:
            work(h, password)
        user = getattr(h, role)
        signature = signature_of(user, password) if name in APPROVAL_SIGNATURES else None
        h = services.handover_transition(handover=h.pk, name=name, user=user, signature=signature)
    return Handover.objects.get(pk=h.pk)


@contextlib.contextmanager
def passwords_checked_once():
    """Each (password, stored hash) pair is checked by the hasher once, then its answer remembered.

    The demo's people share one password hash, and every signature of a walk checks it again:
    about a quarter of a second of PBKDF2 each, most of the demo seed's time. Within this block a
    pair already checked is not hashed again; a wrong password is still refused. For the seed only.
    """
    real = hashers.verify_password
    answers: dict[tuple, tuple[bool, bool]] = {}

    def remembered(password, encoded, preferred="default"):
        key = (password, encoded, preferred)
        if key not in answers:
            answers[key] = real(password, encoded, preferred=preferred)
        return answers[key]

    with mock.patch.object(hashers, "verify_password", remembered):
        yield
