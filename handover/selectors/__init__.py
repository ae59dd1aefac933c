"""Reads of handovers: who sees which, what each person must do now, and what the pages show.

One module per thing read; the handover page is built by one builder per section (page/).
Callers use `selectors.<name>`: every public name is re-exported here.

    visibility   who sees which handover (the one gate: a handover someone may not see is a
                 404 for them everywhere), the lists, the eligible receivers, the export lock
    inbox        what each person must act on now, and the signatures they owe
    transitions  the transitions this person may run now, conditions met
    signatures   whether each signature still holds, and the page's signature panel
    report       the report's figures, live and as labelled lines
    summary      what the departing person keeps of a completed handover
    archive      the sealed archive, and what a file or code belongs to
    lists        each list and object the API reads under /api/handovers/{id}/
    page/        the handover page, one builder per section
    display      labels, local times, URL patterns and cheap rows the sections share
"""

from .archive import (
    MAX_VERIFY_BYTES,
    VerifyResult,
    archive_for,
    archive_matching,
    archived_handovers,
    verify_code,
    verify_file,
)
from .departures import hr_departures_for
from .duties import DutyPage, duties_for_list, duties_visible_to, duty_page
from .evaluation import EvaluationPanel, evaluation_panel
from .fit import ClientSuggestions, Suggestion, receiver_suggestions, suggestions_panel
from .inbox import DUTY_TODO, TODO_PARTIES, DisputeRow, InboxEntry, disputed_items, inbox_for
from .lists import (
    checklist_items,
    current_signatures,
    handover_clients,
    handover_events,
    handover_fresh,
    handover_phone_checks,
    handover_report,
    handover_visits,
    row_in,
)
from .notices import NoticesTab, link_state, notice_for_token, notice_texts, notice_token, notices_tab, stage_reached
from .outcomes import (
    Outcome,
    OutcomeSummary,
    client_outcome_panel,
    client_outcomes,
    outcome_summary,
    outcomes_for_client,
    outcomes_for_handover,
)
from .page import GridInput, HandoverPage, Typed, handover_page
from .page.clients import ClientRow, ReceiverGroup
from .page.items import STATUS_STYLE, ItemRow
from .page.prints import archive_status, may_download_archive
from .page.receivers import ReceiversBulk, receivers_bulk
from .page.receivers import may_use as receivers_bulk_allowed
from .page.spot_check import CallRow
from .page.stages import StageCell
from .page.steps import Step
from .page.timeline import EVENT_LABELS, EventRow
from .page.visits import VisitRow
from .people import departing_choices, people_search, people_visible_to, people_with_role
from .report import figure_rows, report_figures
from .signatures import SignatureNeed, SignaturePanel, SignatureRow, signature_statuses
from .summary import HandoverSummary, OwnSignature, handover_summary
from .transitions import conditions_met, transitions_for
from .visibility import (
    API_PEOPLE,
    clients_seen_in_open_handovers,
    departing_is_locked,
    eligible_receivers,
    handover_for_api,
    handover_for_user,
    handovers_for_api,
    handovers_for_list,
    handovers_visible_to,
    is_overdue,
    receivers_for,
    with_current_due,
)

__all__ = [
    "ClientSuggestions",
    "Suggestion",
    "receiver_suggestions",
    "suggestions_panel",
    "MAX_VERIFY_BYTES",
    "VerifyResult",
    "archived_handovers",
    "verify_code",
    "verify_file",
    "departing_choices",
    "people_search",
    "people_visible_to",
    "people_with_role",
    "EvaluationPanel",
    "evaluation_panel",
    "Outcome",
    "OutcomeSummary",
    "client_outcome_panel",
    "client_outcomes",
    "outcome_summary",
    "outcomes_for_client",
    "outcomes_for_handover",
    "DutyPage",
    "duties_for_list",
    "hr_departures_for",
    "duties_visible_to",
    "duty_page",
    "NoticesTab",
    "link_state",
    "notice_for_token",
    "notice_texts",
    "notice_token",
    "notices_tab",
    "stage_reached",
    "ReceiversBulk",
    "receivers_bulk",
    "receivers_bulk_allowed",
    "Typed",
    "archive_status",
    "may_download_archive",
    "API_PEOPLE",
    "DUTY_TODO",
    "DisputeRow",
    "EVENT_LABELS",
    "STATUS_STYLE",
    "TODO_PARTIES",
    "CallRow",
    "ClientRow",
    "EventRow",
    "HandoverPage",
    "HandoverSummary",
    "InboxEntry",
    "ItemRow",
    "OwnSignature",
    "ReceiverGroup",
    "SignatureNeed",
    "SignaturePanel",
    "SignatureRow",
    "StageCell",
    "Step",
    "VisitRow",
    "archive_for",
    "archive_matching",
    "checklist_items",
    "clients_seen_in_open_handovers",
    "conditions_met",
    "current_signatures",
    "departing_is_locked",
    "disputed_items",
    "eligible_receivers",
    "figure_rows",
    "handover_clients",
    "handover_events",
    "handover_for_api",
    "handover_for_user",
    "handover_fresh",
    "handover_page",
    "GridInput",
    "handover_phone_checks",
    "handover_report",
    "handover_summary",
    "handover_visits",
    "handovers_for_api",
    "handovers_for_list",
    "handovers_visible_to",
    "inbox_for",
    "is_overdue",
    "receivers_for",
    "report_figures",
    "row_in",
    "signature_statuses",
    "transitions_for",
    "with_current_due",
]

# The client's satisfaction survey (issue 14).
from .surveys import (  # noqa: E402
    SurveyResult,
    client_survey_answers,
    survey_for_token,
    survey_results_for,
    survey_state,
    survey_texts,
    survey_token,
    surveys_tab,
)

__all__ += [
    "SurveyResult",
    "client_survey_answers",
    "survey_for_token",
    "survey_results_for",
    "survey_state",
    "survey_texts",
    "survey_token",
    "surveys_tab",
]

# The dashboard (issue 14, item 4).
from .dashboard import (  # noqa: E402
    AfterHandover,
    Dashboard,
    Table,
    after_handover_figures,
    after_handover_tables,
    dashboard_departments,
    dashboard_figures,
    dashboard_tables,
    may_see_dashboard,
)

__all__ += [
    "AfterHandover",
    "Dashboard",
    "Table",
    "after_handover_figures",
    "after_handover_tables",
    "dashboard_departments",
    "dashboard_figures",
    "dashboard_tables",
    "may_see_dashboard",
]

# Relationship risk per client (issue 15, item 2).
from .risk import ClientRisk, Factor, by_risk, client_risks, factor_labels, risk_level, rule_text  # noqa: E402

__all__ += ["ClientRisk", "Factor", "by_risk", "client_risks", "factor_labels", "risk_level", "rule_text"]

# A cover (代管): what the absent person reads of the covered clients, and the export lock.
from .cover import absent_in_cover, active_covers_of, clients_granted, covered_for  # noqa: E402

__all__ += ["absent_in_cover", "active_covers_of", "clients_granted", "covered_for"]
