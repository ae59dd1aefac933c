"""The report's summary is part of what the checklist and the report signatures vouch for.

A test that changes one field only: the summary, nothing else of the report.
"""

from handover import selectors, services, signing
from handover.models import Handover, Report, SignaturePurpose, State
from tests.walk import advance_to, sign_missing, signature_of


def _checker(h) -> signing.SignatureChecker:
    return signing.SignatureChecker(Handover.objects.get(pk=h.pk))


def test_a_summary_changed_behind_the_procedures_back_unsigns_the_checklist(handover, people):
    h = advance_to(handover, State.REPORT_APPROVAL)
    sign_missing(h, SignaturePurpose.CHECKLIST)
    signed = _checker(h).signatures
    checklist = [s for s in signed if s.purpose == SignaturePurpose.CHECKLIST]
    assert len(checklist) == 3 and all(_checker(h).is_valid(s) for s in checklist)
    report = Report.objects.get(handover=h)

    Report.objects.filter(pk=report.pk).update(summary=report.summary + "（改）")

    checker = _checker(h)
    assert not [s for s in checklist if checker.is_valid(s)]
    # The report review's signature pinned the summary too.
    review = [s for s in signed if s.purpose == SignaturePurpose.REPORT_REVIEW]
    assert review and not checker.is_valid(review[0])
    assert "approve_report" not in selectors.transitions_for(Handover.objects.get(pk=h.pk), people.manager)
    # Put back as signed, the signatures hold again: it was the summary, and only it.
    Report.objects.filter(pk=report.pk).update(summary=report.summary)
    checker = _checker(h)
    assert all(checker.is_valid(s) for s in checklist) and checker.is_valid(review[0])


def test_a_report_returned_and_rewritten_in_its_summary_only_must_be_signed_again(handover, people):
    h = advance_to(handover, State.REPORT_APPROVAL)
    sign_missing(h, SignaturePurpose.CHECKLIST)
    h = services.handover_transition(handover=h, name="return_report", user=people.manager, comment="总结写得太简略")
    report = Report.objects.get(handover=h)
    services.report_update(
        handover=h,
        user=people.departing,
        summary=report.summary + "补充：两家A类客户已续约。",
        open_risks=report.open_risks,
        advice=report.advice,
    )
    services.handover_transition(handover=h, name="submit_report", user=people.departing)
    h = services.handover_transition(
        handover=h, name="approve_report_review", user=people.supervisor, signature=signature_of(people.supervisor)
    )

    assert sorted(_checker(h).missing(SignaturePurpose.CHECKLIST)) == sorted(
        [people.departing.pk, people.receiver.pk, people.witness.pk]
    )


def test_the_report_starts_as_a_draft_from_the_figures_once_the_spot_check_is_over(handover, people):
    h = advance_to(handover, State.SPOT_CHECK)
    Report.objects.filter(handover=h).update(summary="")
    h = advance_to(h, State.REPORT)
    summary = Report.objects.get(handover=h).summary
    n = h.clients.count()
    assert f"本次交接共{n}个客户" in summary and "未收应收款¥" in summary


def test_a_summary_already_written_is_not_replaced_by_the_draft(handover, people):
    h = advance_to(handover, State.SPOT_CHECK)
    Report.objects.filter(handover=h).update(summary="我自己写的总结")
    h = advance_to(h, State.REPORT)
    assert Report.objects.get(handover=h).summary == "我自己写的总结"
