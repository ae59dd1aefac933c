"""Every write to a handover goes through here; the UI and the API call these and nothing else.

Services lock the handover row, check who is acting and in which state, change the rows
together in one transaction, write the timeline, and queue notices after commit.

One module per stage of the procedure (start, plan, receivers, materials, visits, spot_check, report,
signatures, transitions, completion, archive), over errors.py (the refusals) and common.py (the
locking, state checks and timeline every stage shares). Callers use the names re-exported here.
"""

from .archive import (
    annex_soon,
    archive_job_run,
    archive_name,
    archive_retry,
    archive_soon,
    archives_ask_again,
    archives_queue_missing,
    confirmation_annex_print,
    handover_archive,
    queue_annex_with,
    queue_archive_with,
)
from .client_notices import (
    MANUAL_CHANNELS,
    LinkClosed,
    deliver_notices_with,
    letters_pdf,
    link_state,
    notice_answer,
    notice_deliver,
    notice_for_token,
    notice_mark_sent,
    notice_texts,
    notice_token,
    notices_for_letters,
    notices_prepare,
    notices_send,
)
from .completion import handover_revoke_access, ownership_refusals
from .departures import hr_departure_register
from .errors import CapExceeded, Conflict, HandoverError, InvalidInput, NotAllowed, RowErrors, SheetErrors, WrongState
from .evaluation import handover_evaluate
from .invitations import (
    handover_visits_ics,
    invitation_deliver,
    invitations_deliver_with,
    invitations_queue_pending,
    invitations_sync,
    pending_invitation_ids,
    planned_visit_ics,
    recorded_visit_ics,
    visits_ics_filename,
)
from .materials import (
    item_answer_dispute,
    item_confirm,
    item_dispute,
    item_hand_over,
    items_confirm,
    items_confirm_all,
    items_hand_over_all,
)
from .plan import (
    PlanRow,
    handover_client_drop,
    handover_client_set_receiver,
    handover_client_update_plan,
    plan_save_rows,
)
from .plan_sheet import PLAN_SHEET, plan_filename, plan_sheet_upload, plan_workbook
from .receivers import (
    RowPick,
    SplitPreview,
    receivers_set,
    receivers_set_allowed,
    receivers_split_apply,
    receivers_split_preview,
    split_digest,
)
from .report import report_update
from .signatures import SignatureInput, handover_sign
from .spot_check import CallRow, calls_save_rows, draw_sample, phone_check_record, sample_size
from .start import NUMBER_ATTEMPTS, handover_start, open_handover_receiving, stage_deadlines
from .transitions import AFTER_TRANSITION, handover_transition
from .visit_sheet import sheet_error_lines, visit_sheet_download, visit_sheet_filename, visit_sheet_upload
from .visits import VisitRow, visit_confirm, visit_record, visits_confirm, visits_save_rows

__all__ = [
    "MANUAL_CHANNELS",
    "LinkClosed",
    "deliver_notices_with",
    "letters_pdf",
    "link_state",
    "notice_answer",
    "notice_deliver",
    "notice_for_token",
    "notice_mark_sent",
    "notice_texts",
    "notice_token",
    "notices_for_letters",
    "notices_prepare",
    "notices_send",
    "handover_visits_ics",
    "invitation_deliver",
    "invitations_deliver_with",
    "invitations_queue_pending",
    "invitations_sync",
    "pending_invitation_ids",
    "planned_visit_ics",
    "recorded_visit_ics",
    "visits_ics_filename",
    "handover_evaluate",
    "AFTER_TRANSITION",
    "NUMBER_ATTEMPTS",
    "CallRow",
    "PLAN_SHEET",
    "Conflict",
    "HandoverError",
    "InvalidInput",
    "CapExceeded",
    "NotAllowed",
    "PlanRow",
    "RowErrors",
    "RowPick",
    "SheetErrors",
    "SignatureInput",
    "SplitPreview",
    "VisitRow",
    "WrongState",
    "archive_name",
    "archive_job_run",
    "archive_retry",
    "annex_soon",
    "archive_soon",
    "confirmation_annex_print",
    "archives_ask_again",
    "archives_queue_missing",
    "calls_save_rows",
    "draw_sample",
    "handover_archive",
    "handover_client_drop",
    "handover_client_set_receiver",
    "handover_client_update_plan",
    "handover_revoke_access",
    "handover_sign",
    "handover_start",
    "hr_departure_register",
    "handover_transition",
    "item_answer_dispute",
    "item_confirm",
    "item_dispute",
    "item_hand_over",
    "items_confirm",
    "items_confirm_all",
    "items_hand_over_all",
    "open_handover_receiving",
    "ownership_refusals",
    "phone_check_record",
    "plan_filename",
    "plan_save_rows",
    "plan_sheet_upload",
    "plan_workbook",
    "queue_annex_with",
    "queue_archive_with",
    "receivers_set",
    "receivers_set_allowed",
    "receivers_split_apply",
    "receivers_split_preview",
    "report_update",
    "sample_size",
    "sheet_error_lines",
    "split_digest",
    "stage_deadlines",
    "visit_confirm",
    "visit_record",
    "visit_sheet_download",
    "visit_sheet_filename",
    "visit_sheet_upload",
    "visits_confirm",
    "visits_save_rows",
]

# The client's satisfaction survey (issue 14): the client notice's link mechanism, a second use.
from .client_surveys import deliver_surveys_with, survey_answer, survey_deliver, surveys_send_due  # noqa: E402

__all__ += ["deliver_surveys_with", "survey_answer", "survey_deliver", "surveys_send_due"]

# A cover (代管): the clients go back to the absent person on the return date, or earlier by HR.
from .cover import CoverEnd, cover_end, cover_set_return_date, covers_end_due  # noqa: E402

__all__ += ["CoverEnd", "cover_end", "cover_set_return_date", "covers_end_due"]
