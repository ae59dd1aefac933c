"""Handovers completed 3 to 12 months ago, and what became of their clients since (issue 14).

Each is walked to completion through the services today, by the people who would do it (HR then
revokes the departed person's access and the supervisor evaluates it), and then moved back in time
as a whole: every date and time of the handover's rows (its events, duties, visits, signatures,
the owner changes and the notices it caused) shifts by the same number of days, so the record
reads as it happened. Its clients' surveys are prepared by the periodic scan as of 30 days after
the completion, and answered through their links as of that time.

After it, the book: the receivers' follow-ups, payments on what was outstanding at completion, new
contracts and won or lost deals, and some clients marked lost with a reason. Drawn from generators
seeded with each client's credit code, so the same day gives the same story.
"""

import datetime
import random
from decimal import Decimal
from unittest import mock

from django.contrib.admin.utils import NestedObjects
from django.db import models, transaction
from django.db.models import F
from django.test.utils import override_settings
from django.utils import timezone

from accounts.models import User
from clients.models import (
    ZERO,
    ClientStatus,
    Contract,
    ContractStatus,
    FollowUp,
    FollowUpKind,
    LostReason,
    Opportunity,
    OpportunityStage,
    OwnershipChange,
    Payment,
    Receivable,
    payments_record,
)
from clients.status import client_mark_lost
from handover import services, signing
from handover.models import (
    ClientSurvey,
    Duty,
    DutyKind,
    Event,
    Handover,
    HandoverEvaluation,
    InvitationDelivery,
    Signature,
    State,
    SurveyContinue,
    SurveyDelivery,
    Visit,
)
from handover.selectors.surveys import survey_token
from handover.services import start as start_service
from handover.services.client_surveys import survey_answer, surveys_send_due
from notifications.models import Notification

from .company import DEMO_PASSWORD, SEED
from .walk import advance_to

# departing (a former employee), receiver, second receiver (or None), days since completion, reason
PAST_HANDOVERS = [
    ("gaofeng", "zhangwei", "chenjing", 330, "resignation"),
    ("songyu", "sunli", None, 220, "resignation"),
    ("tangli", "luoxue", None, 120, "transfer"),
]
SURVEY_AFTER_DAYS = 30

LOST_REASONS = (
    (LostReason.COMPETITOR, "竞品以更低价格和新对接人主动跟进，客户转向对方。"),
    (LostReason.RELATIONSHIP, "原销售与客户老板私交深，换人后客户不再回应。"),
    (LostReason.PRICE, "客户预算削减，要求降价 15%，无法接受。"),
    (LostReason.SERVICE, "交接期间一次售后响应超时，客户投诉后停止合作。"),
    (LostReason.CLOSED, "客户工厂停产关闭。"),
)
COMMENTS_GOOD = ("新对接人很专业，交接顺利。", "拜访及时，问题都有跟进。", "")
COMMENTS_LOW = ("换人后响应变慢，之前承诺的事项没人跟进。", "新对接人不了解我们的情况，需要重新沟通。")
EVALUATIONS = (
    (5, 4, 4, "资料齐全，重点客户均共同拜访；接收人三个月内完成全部客户拜访。"),
    (4, 3, 4, "资料基本完整，个别合同原件归档延迟；一家客户流失，需复盘。"),
    (4, 4, 3, "交接按期完成；接收人对华南客户仍在熟悉中，建议主管陪访 A 类客户。"),
)
FOLLOW_UP_TEXT = {
    FollowUpKind.VISIT: "上门拜访{who}，介绍后续服务安排，了解下季度需求。",
    FollowUpKind.PHONE: "电话联系{who}，确认交接后对接方式，约定拜访时间。",
    FollowUpKind.WECHAT: "微信与{who}沟通订单进度和付款安排。",
}


def _at(day: datetime.date, hour: int = 10) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(hour, 0)))


WALK_WEEKS = 4


def _shift(h: Handover, days: int, since: datetime.datetime, done: datetime.datetime) -> None:
    """Move every date and time of the handover's rows (all that its deletion would take with it),
    and the owner changes it made, `days` back. The walk itself took seconds (from `since` to
    `done`, its completion): its times are spread over the weeks before the completion, in order."""
    delta = datetime.timedelta(days=days)
    span = (done - since).total_seconds() or 1.0
    stretch = datetime.timedelta(weeks=WALK_WEEKS)

    def moved(value):
        if isinstance(value, datetime.datetime) and since <= value <= done:
            return value - delta - stretch * ((done - value).total_seconds() / span)
        return value - delta

    collector = NestedObjects(using="default")
    collector.collect([h])
    for model, instances in collector.data.items():
        fields = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.DateField | models.DateTimeField) and not f.primary_key
        ]
        if not fields:
            continue
        rows = list(instances)
        for row in rows:
            for name in fields:
                value = getattr(row, name)
                if value is not None:
                    setattr(row, name, moved(value))
        model.objects.bulk_update(rows, fields)
    for change in OwnershipChange.objects.filter(client__handover_entries__handover=h, changed_at__gte=since):
        change.changed_at = moved(change.changed_at)
        change.save(update_fields=["changed_at"])


def _walk(spec, users, today) -> Handover:
    departing, receiver, second, days_ago, reason = spec
    person = users[departing]
    if not person.is_active:  # the seed made again after its handovers were deleted
        User.objects.filter(pk=person.pk).update(is_active=True)
        person.refresh_from_db()
    hr, supervisor = users["xuxiaoyan"], person.supervisor
    since = timezone.now()
    # Numbered in the month it was started, as it would have been (the number is in what is signed).
    started_on = today - datetime.timedelta(days=days_ago + 7 * WALK_WEEKS)
    numbered = start_service._next_number
    with mock.patch.object(start_service, "_next_number", lambda _today: numbered(started_on)):
        h = services.handover_start(
            started_by=hr,
            departing=person,
            receiver=users[receiver],
            witness=users["qianjin"],
            manager=users["mayongqiang"],
            reason=reason,
            notice_date=today - datetime.timedelta(days=7 * WALK_WEEKS + 5),
            last_working_day=today,
        )
    if second:
        for hc in list(h.clients.order_by("pk"))[::3]:
            services.handover_client_set_receiver(handover_client=hc, user=person, receiver=users[second])
    h = advance_to(h, State.COMPLETED, password=DEMO_PASSWORD)
    done = h.completed_at
    if Duty.objects.filter(handover=h, kind=DutyKind.REVOKE_ACCOUNTS).exists():  # resigned
        services.handover_revoke_access(handover=h, user=hr)
    index = [s[0] for s in PAST_HANDOVERS].index(departing)
    materials, feedback, adaptation, comment = EVALUATIONS[index % len(EVALUATIONS)]
    services.handover_evaluate(
        handover=h, user=supervisor, materials=materials, feedback=feedback, adaptation=adaptation, comment=comment
    )
    InvitationDelivery.objects.filter(sent_at__isnull=True).delete()
    checker = signing.SignatureChecker(h)
    held = {sig.pk for sig in checker.signatures if checker.is_valid(sig)}
    _shift(h, days_ago, since, done)
    h.refresh_from_db()
    # Each joint visit took place the day before it was recorded, as the walk says.
    for visit in Visit.objects.filter(handover_client__handover=h):
        visit.visited_on = timezone.localdate(visit.recorded_at) - datetime.timedelta(days=1)
        visit.save(update_fields=["visited_on"])
    # What they signed had these dates (the plan's, the visits', the calls'): the hashes of the
    # signatures that held at the completion are those of the record as it now reads.
    checker = signing.SignatureChecker(h)
    for sig in checker.signatures:
        if sig.pk in held:
            Signature.objects.filter(pk=sig.pk).update(
                content_sha256=checker.content.sha256(sig.purpose, sig.signer_id)
            )
    # The supervisor evaluated it about four weeks after the completion, not on the day.
    evaluated = h.completed_at + datetime.timedelta(days=26, hours=3)
    HandoverEvaluation.objects.filter(handover=h).update(evaluated_at=evaluated)
    Event.objects.filter(handover=h, kind="evaluated").update(at=evaluated)
    return h


def _surveys(h: Handover, rng_for) -> None:
    sent_at = h.completed_at + datetime.timedelta(days=SURVEY_AFTER_DAYS)
    surveys_send_due(now=sent_at)
    # Nothing owed by email or SMS for the demo's past.
    SurveyDelivery.objects.filter(survey__handover_client__handover=h).delete()
    for survey in ClientSurvey.objects.filter(handover_client__handover=h).select_related("handover_client__client"):
        rng = rng_for(survey.handover_client.client)
        if rng.random() < 0.2:
            continue  # never answered
        low = rng.random() < 0.2
        answered = sent_at + datetime.timedelta(days=rng.randint(1, 6), hours=rng.randint(1, 8))
        with mock.patch("django.utils.timezone.now", return_value=answered):
            survey_answer(
                token=survey_token(survey),
                rating=rng.choice((1, 2)) if low else rng.choice((4, 4, 5, 5, 3)),
                will_continue=SurveyContinue.UNSURE if low else SurveyContinue.YES,
                comment=rng.choice(COMMENTS_LOW) if low else rng.choice(COMMENTS_GOOD),
            )
        Event.objects.filter(handover=h, kind="client_survey_answered", at__gt=answered).update(at=answered)


def _after(h: Handover, today: datetime.date, rng_for, seq: list[int]) -> None:
    completed = timezone.localdate(h.completed_at)
    age = (today - completed).days
    for hc in h.clients.select_related("client", "receiver").order_by("pk"):
        client, receiver = hc.client, hc.receiver
        rng = rng_for(client)
        contacts = list(client.contacts.order_by("pk"))
        # The book was drawn as if the departed person still had the client: what it has them
        # record after the completion is replaced by the receiver's own follow-ups below.
        FollowUp.objects.filter(client=client, created_by=h.departing, date__gte=completed).delete()
        # Likewise its payments: what the book has received was received when the handover completed
        # (the snapshot says so), so none of it is dated after the completion.
        Payment.objects.filter(receivable__contract__client=client, date__gte=completed).update(
            date=completed - datetime.timedelta(days=1)
        )
        lost = rng.random() < 0.18
        horizon = min(age - 1, rng.randint(40, 120)) if lost else age - 1
        # The receiver's follow-ups: first contact within days, a visit within weeks, then regular.
        days = [rng.randint(1, 8), rng.randint(7, 30)]
        day = days[-1]
        while True:
            day += rng.randint(20, 60)
            if day > horizon:
                break
            days.append(day)
        follow_ups = []
        for i, offset in enumerate(d for d in days if d <= horizon):
            kind = (
                FollowUpKind.PHONE
                if i == 0
                else FollowUpKind.VISIT
                if i == 1
                else rng.choice((FollowUpKind.VISIT, FollowUpKind.PHONE, FollowUpKind.WECHAT))
            )
            contact = rng.choice(contacts) if contacts else None
            date = completed + datetime.timedelta(days=offset)
            who = f"{contact.position}{contact.name}" if contact else "客户"
            follow_ups.append(
                FollowUp(
                    client=client,
                    date=date,
                    kind=kind,
                    contact=contact,
                    content=FOLLOW_UP_TEXT[kind].format(who=who),
                    next_plan="按月跟进。",
                    created_by=receiver,
                    created_at=_at(date, 9 + rng.randint(0, 8)),
                )
            )
        FollowUp.objects.bulk_create(follow_ups)
        # Which closed the receiver's duties to contact and to visit the client, on those days.
        for kind, follow_up in ((DutyKind.CONTACT_CLIENT, follow_ups[0]), (DutyKind.VISIT_CLIENT, follow_ups[1])):
            Duty.objects.filter(handover=h, client=client, kind=kind, done_at__isnull=True).update(
                done_at=follow_up.created_at, done_by=receiver
            )
        if lost or client.status == ClientStatus.LOST:  # lost already at the handover: nothing more
            if client.status != ClientStatus.LOST:
                reason, note = LOST_REASONS[rng.randrange(len(LOST_REASONS))]
                client_mark_lost(client=client, user=receiver, reason=reason, note=note)
                type(client).objects.filter(pk=client.pk).update(
                    lost_at=_at(completed + datetime.timedelta(days=horizon))
                )
                if rng.random() < 0.5:
                    Opportunity.objects.create(
                        client=client,
                        name=f"{completed.year + 1}年度供货续约",
                        stage=OpportunityStage.LOST,
                        expected_amount=Decimal(rng.randint(5, 40) * 10000),
                        expected_close_date=completed + datetime.timedelta(days=horizon),
                        closed_on=completed + datetime.timedelta(days=horizon),
                        main_objections=note,
                    )
            continue
        # Payments on what was outstanding at the handover, mostly collected by the receiver.
        for contract in client.contracts.prefetch_related("receivables"):
            for r in contract.receivables.all():
                if r.amount_received < r.amount_due and r.due_date < today and rng.random() < 0.7:
                    r.amount_received = r.amount_due
                    # Paid on its due day, or on the completion day if it was overdue then.
                    r.save(update_fields=["amount_received"], received_on=min(today, max(completed, r.due_date)))
            contract.amount_paid = sum((r.amount_received for r in contract.receivables.all()), ZERO)
            contract.save(update_fields=["amount_paid"])
        # A client that signed in the year before mostly renews, for about as much: the year after
        # against the year before comes out a little below, as the research on handovers found.
        before = sum(
            client.contracts.filter(
                signed_on__lt=completed, signed_on__gte=completed - datetime.timedelta(days=365)
            ).values_list("amount", flat=True),
            ZERO,
        )
        roll = rng.random() * (0.6 if before else 1.0)
        if roll < 0.45 and age > 45:
            signed = completed + datetime.timedelta(days=rng.randint(30, age - 10))
            start = signed + datetime.timedelta(days=rng.randint(3, 10))
            if before:
                amount = (before * Decimal(rng.randint(60, 115)) / 100).quantize(Decimal("1000"))
            else:
                amount = Decimal(rng.randint(8, 90) * 10000)
            seq[0] += 1
            contract = Contract.objects.create(
                client=client,
                number=f"HT-{signed.year}-D{seq[0]:03d}",
                name=f"{start.year}年度设备维保服务合同（续签）",
                signed_on=signed,
                start_date=start,
                end_date=start + datetime.timedelta(days=364),
                amount=amount,
                amount_paid=ZERO,
                performance_progress=min(100, (today - start).days * 100 // 365),
                status=ContractStatus.ACTIVE,
                original_location="法务部合同库 D-01",
            )
            half = (amount / 2).quantize(Decimal("0.01"))
            first_due = start + datetime.timedelta(days=15)
            paid = half if first_due < today else ZERO
            made = Receivable.objects.bulk_create(
                [
                    Receivable(
                        contract=contract,
                        description="上半年服务费（50%）",
                        amount_due=half,
                        amount_received=paid,
                        due_date=first_due,
                    ),
                    Receivable(
                        contract=contract,
                        description="下半年服务费（50%）",
                        amount_due=amount - half,
                        amount_received=ZERO,
                        due_date=start + datetime.timedelta(days=197),
                    ),
                ]
            )
            payments_record([(r, ZERO) for r in made], on=first_due)  # paid on its due day
            Contract.objects.filter(pk=contract.pk).update(amount_paid=paid)
            Opportunity.objects.create(
                client=client,
                name=f"{signed.year}年度维保续签",
                stage=OpportunityStage.WON,
                expected_amount=amount,
                expected_close_date=signed,
                closed_on=signed,
            )
        elif roll < 0.6 and age > 45:
            closed = completed + datetime.timedelta(days=rng.randint(20, age - 5))
            Opportunity.objects.create(
                client=client,
                name="三期产线扩建项目",
                stage=OpportunityStage.LOST,
                expected_amount=Decimal(rng.randint(20, 120) * 10000),
                expected_close_date=closed,
                closed_on=closed,
                main_objections="客户选择了报价更低的方案。",
            )


@override_settings(EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend")
@transaction.atomic
def demo_history() -> int:
    """The past handovers not there yet; returns how many were made."""
    users = {u.username: u for u in User.objects.all()}
    today = timezone.localdate()
    made = 0
    seq = [Contract.objects.filter(number__contains="-D").count()]

    def rng_for(client):
        return random.Random(f"{SEED}:history:{client.credit_code}")

    for spec in PAST_HANDOVERS:
        if spec[0] not in users or Handover.objects.filter(departing=users[spec[0]]).exists():
            continue
        h = _walk(spec, users, today)
        _surveys(h, rng_for)
        _after(h, today, rng_for, seq)
        # What it told people (the survey's low answers too, written today) was read back then.
        notices = Notification.objects.filter(handover=h)
        notices.filter(created_at__gt=h.completed_at + datetime.timedelta(days=60)).update(
            created_at=h.completed_at + datetime.timedelta(days=SURVEY_AFTER_DAYS + 6)
        )
        # and sent by email back then: nothing owed by the demo's past.
        notices.filter(read_at__isnull=True).update(read_at=F("created_at"))
        notices.filter(emailed_at__isnull=True).update(emailed_at=F("created_at"))
        notices.filter(webhooked_at__isnull=True).update(webhooked_at=F("created_at"))
        made += 1
    return made
