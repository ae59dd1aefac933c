from django.urls import path

from . import api, api_directory

app_name = "api"

urlpatterns = [
    path("auth/token/", api.TokenView.as_view(), name="token"),
    path("handovers/", api.HandoverListView.as_view(), name="handover-list"),
    path("handovers/<int:pk>/", api.HandoverDetailView.as_view(), name="handover-detail"),
    path(
        "handovers/<int:pk>/transitions/<str:name>/", api.HandoverTransitionView.as_view(), name="handover-transition"
    ),
    path("handovers/<int:pk>/clients/<int:hc_id>/", api.HandoverClientView.as_view(), name="handover-client"),
    path("handovers/<int:pk>/plan/rows/", api.PlanRowsView.as_view(), name="plan-rows"),
    path("handovers/<int:pk>/risks/", api.HandoverRisksView.as_view(), name="handover-risks"),
    path(
        "handovers/<int:pk>/clients/<int:hc_id>/drop/",
        api.HandoverClientDropView.as_view(),
        name="handover-client-drop",
    ),
    path("handovers/<int:pk>/receivers/set/", api.ReceiversSetView.as_view(), name="receivers-set"),
    path(
        "handovers/<int:pk>/receivers/split-preview/",
        api.ReceiversSplitPreviewView.as_view(),
        name="receivers-split-preview",
    ),
    path(
        "handovers/<int:pk>/receivers/split-apply/",
        api.ReceiversSplitApplyView.as_view(),
        name="receivers-split-apply",
    ),
    path("handovers/<int:pk>/plan/sheet/", api.PlanSheetView.as_view(), name="plan-sheet"),
    path("handovers/<int:pk>/items/", api.ItemListView.as_view(), name="item-list"),
    path("handovers/<int:pk>/items/hand-over-all/", api.ItemsHandOverAllView.as_view(), name="items-hand-over-all"),
    path("handovers/<int:pk>/items/confirm-all/", api.ItemsConfirmAllView.as_view(), name="items-confirm-all"),
    path("handovers/<int:pk>/items/<int:item_id>/hand-over/", api.ItemHandOverView.as_view(), name="item-hand-over"),
    path("handovers/<int:pk>/items/<int:item_id>/confirm/", api.ItemConfirmView.as_view(), name="item-confirm"),
    path("handovers/<int:pk>/items/<int:item_id>/dispute/", api.ItemDisputeView.as_view(), name="item-dispute"),
    path("handovers/<int:pk>/items/<int:item_id>/answer/", api.ItemAnswerView.as_view(), name="item-answer"),
    path("handovers/<int:pk>/items/confirm/", api.ItemsConfirmView.as_view(), name="items-confirm"),
    path("handovers/<int:pk>/visits/", api.VisitListView.as_view(), name="visit-list"),
    path("handovers/<int:pk>/visits/<int:visit_id>/confirm/", api.VisitConfirmView.as_view(), name="visit-confirm"),
    path("handovers/<int:pk>/visits/rows/", api.VisitRowsView.as_view(), name="visit-rows"),
    path("handovers/<int:pk>/visits/confirm/", api.VisitsConfirmView.as_view(), name="visits-confirm"),
    path("handovers/<int:pk>/visits/sheet/", api.VisitSheetView.as_view(), name="visit-sheet"),
    path("handovers/<int:pk>/phone-checks/rows/", api.PhoneCheckRowsView.as_view(), name="phone-check-rows"),
    path("handovers/<int:pk>/phone-checks/", api.PhoneCheckListView.as_view(), name="phone-check-list"),
    path("handovers/<int:pk>/report/", api.ReportView.as_view(), name="report"),
    path("handovers/<int:pk>/receivers/", api.ReceiverChoiceListView.as_view(), name="receiver-list"),
    path(
        "handovers/<int:pk>/receivers/suggestions/",
        api.ReceiverSuggestionsView.as_view(),
        name="receiver-suggestions",
    ),
    path("handovers/<int:pk>/events/", api.EventListView.as_view(), name="event-list"),
    path("handovers/<int:pk>/archive/", api.ArchiveStatusView.as_view(), name="archive-status"),
    path("handovers/<int:pk>/archive/retry/", api.ArchiveRetryView.as_view(), name="archive-retry"),
    path("handovers/<int:pk>/signatures/", api.SignatureListView.as_view(), name="signature-list"),
    path("clients/<int:client_id>/follow-ups/", api.ClientFollowUpsView.as_view(), name="client-follow-ups"),
    path("duties/", api.DutyListView.as_view(), name="duty-list"),
    path("handovers/<int:pk>/notices/", api.NoticeListView.as_view(), name="notice-list"),
    path("handovers/<int:pk>/notices/send/", api.NoticesSendView.as_view(), name="notices-send"),
    path("handovers/<int:pk>/notices/letters/", api.NoticeLettersView.as_view(), name="notice-letters"),
    path("handovers/<int:pk>/notices/<int:hc_id>/mark/", api.NoticeMarkView.as_view(), name="notice-mark"),
    path("handovers/<int:pk>/notices/<int:hc_id>/letter/", api.NoticeLetterView.as_view(), name="notice-letter"),
    # The client's answer, with their link's token (no login).
    path("notices/answer/", api.ClientAnswerView.as_view(), name="notice-answer"),
    # The client's satisfaction survey: its results on a handover, and the client's answer (no login).
    path("handovers/<int:pk>/surveys/", api.SurveyListView.as_view(), name="survey-list"),
    path("surveys/answer/", api.ClientSurveyAnswerView.as_view(), name="survey-answer"),
    path(
        "handovers/<int:pk>/clients/<int:hc_id>/calendar/",
        api.PlannedVisitCalendarView.as_view(),
        name="planned-visit-calendar",
    ),
    path("handovers/<int:pk>/visits/<int:visit_id>/calendar/", api.VisitCalendarView.as_view(), name="visit-calendar"),
    path("handovers/<int:pk>/visits/calendar/", api.VisitsCalendarView.as_view(), name="visits-calendar"),
    path("clients/<int:client_id>/status/", api.ClientStatusView.as_view(), name="client-status"),
    path("clients/<int:client_id>/outcomes/", api.ClientOutcomesView.as_view(), name="client-outcomes"),
    path("handovers/<int:pk>/outcomes/", api.HandoverOutcomesView.as_view(), name="handover-outcomes"),
    path("handovers/<int:pk>/evaluation/", api.HandoverEvaluationView.as_view(), name="handover-evaluation"),
    # The schema answers API clients (token or session, 401 in JSON otherwise); the docs page too,
    # and sends a browser with neither to the login page.
    path("schema/", api.SchemaView.as_view(), name="schema"),
    # Its script is a file too (the split view serves it at ?script), for the Content-Security-Policy.
    path("docs/", api_directory.DocsView.as_view(), name="docs"),
    path("dashboard/", api.DashboardView.as_view(), name="dashboard"),
    path("hr/departures/", api.HrDepartureListView.as_view(), name="hr-departure-list"),
    path("hr/departures/<str:external_id>/", api.HrDepartureDetailView.as_view(), name="hr-departure-detail"),
    # What the pages do outside one handover's stages (issue 16): handover/api_directory.py.
    path("people/", api_directory.PeopleView.as_view(), name="people"),
    path("clients/", api_directory.ClientListView.as_view(), name="client-list"),
    path("clients/<int:client_id>/", api_directory.ClientDetailView.as_view(), name="client-detail"),
    path("archive/", api_directory.ArchiveListView.as_view(), name="archive-list"),
    path("archive/<int:pk>/download/", api_directory.ArchiveDownloadView.as_view(), name="archive-download"),
    path("archive/verify/", api_directory.VerifyView.as_view(), name="archive-verify"),
    path("inbox/", api_directory.InboxView.as_view(), name="inbox"),
    path("notifications/", api_directory.NotificationListView.as_view(), name="notification-list"),
    path(
        "notifications/<int:notification_id>/read/",
        api_directory.NotificationReadView.as_view(),
        name="notification-read",
    ),
    path("notifications/read-all/", api_directory.NotificationsReadAllView.as_view(), name="notifications-read-all"),
    path("handovers/<int:pk>/revoke-access/", api_directory.RevokeAccessView.as_view(), name="revoke-access"),
    path("handovers/<int:pk>/cover/end/", api_directory.CoverEndView.as_view(), name="cover-end"),
    path(
        "handovers/<int:pk>/cover/return-date/", api_directory.CoverReturnDateView.as_view(), name="cover-return-date"
    ),
    path("handovers/<int:pk>/print/<str:stage>/", api_directory.StagePrintView.as_view(), name="stage-print"),
]
