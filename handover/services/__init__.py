"""Every write to a handover goes through here; the UI and the API call these and nothing else.

Services lock the handover row, check who is acting and in which state, change the rows
together in one transaction, write the timeline, and queue notices after commit.

One module per stage of the procedure (start, plan, materials, visits, spot_check, report,
signatures, transitions, completion, archive), over errors.py (the refusals) and common.py (the
locking, state checks and timeline every stage shares). Callers use the names re-exported here.
"""

from .archive import archive_name, archives_queue_missing, handover_archive, queue_archive_with
from .completion import handover_revoke_access, ownership_refusals
from .errors import Conflict, HandoverError, InvalidInput, NotAllowed, RowErrors, WrongState
from .materials import item_confirm, item_dispute, item_hand_over, items_confirm_all, items_hand_over_all
from .plan import (
    PlanRow,
    handover_client_drop,
    handover_client_set_receiver,
    handover_client_update_plan,
    plan_save_rows,
)
from .plan_sheet import PLAN_SHEET, SheetErrors, plan_filename, plan_sheet_upload, plan_workbook
from .report import report_update
from .signatures import SignatureInput, handover_sign
from .spot_check import draw_sample, phone_check_record, sample_size
from .start import NUMBER_ATTEMPTS, handover_start, open_handover_receiving, stage_deadlines
from .transitions import AFTER_TRANSITION, handover_transition
from .visits import visit_confirm, visit_record

__all__ = [
    "AFTER_TRANSITION",
    "NUMBER_ATTEMPTS",
    "PLAN_SHEET",
    "Conflict",
    "HandoverError",
    "InvalidInput",
    "NotAllowed",
    "PlanRow",
    "RowErrors",
    "SheetErrors",
    "SignatureInput",
    "WrongState",
    "archive_name",
    "archives_queue_missing",
    "draw_sample",
    "handover_archive",
    "handover_client_drop",
    "handover_client_set_receiver",
    "handover_client_update_plan",
    "handover_revoke_access",
    "handover_sign",
    "handover_start",
    "handover_transition",
    "item_confirm",
    "item_dispute",
    "item_hand_over",
    "items_confirm_all",
    "items_hand_over_all",
    "open_handover_receiving",
    "ownership_refusals",
    "phone_check_record",
    "plan_filename",
    "plan_save_rows",
    "plan_sheet_upload",
    "plan_workbook",
    "queue_archive_with",
    "report_update",
    "sample_size",
    "stage_deadlines",
    "visit_confirm",
    "visit_record",
]
