from django.urls import path

from . import views

app_name = "handover"

urlpatterns = [
    path("", views.handover_list, name="list"),
    path("inbox/", views.inbox, name="inbox"),
    path("start/", views.handover_start, name="start"),
    path("archive/", views.archive_list, name="archive"),
    path("archive/<int:pk>/download/", views.archive_download, name="archive_download"),
    path("archive/<int:pk>/archive-now/", views.archive_now, name="archive_now"),
    path("verify/", views.verify, name="verify"),
    path("<int:pk>/", views.handover_detail, name="detail"),
    path("<int:pk>/transition/<str:name>/", views.transition, name="transition"),
    path("<int:pk>/clients/receiver/", views.receiver_set, name="receiver_set"),
    path("<int:pk>/clients/<int:hc_pk>/plan/", views.plan_update, name="plan_update"),
    path("<int:pk>/plan.xlsx", views.plan_download, name="plan_download"),
    path("<int:pk>/plan/upload/", views.plan_upload, name="plan_upload"),
    path("<int:pk>/clients/<int:hc_pk>/visits/", views.visit_record, name="visit_record"),
    path("<int:pk>/clients/<int:hc_pk>/phone-check/", views.phone_check_record, name="phone_check_record"),
    path("<int:pk>/clients/<int:hc_pk>/drop/", views.client_drop, name="client_drop"),
    path("<int:pk>/items/hand-over-all/", views.items_hand_over_all, name="items_hand_over_all"),
    path("<int:pk>/items/confirm-all/", views.items_confirm_all, name="items_confirm_all"),
    path("<int:pk>/items/<int:item_pk>/hand-over/", views.item_hand_over, name="item_hand_over"),
    path("<int:pk>/items/<int:item_pk>/confirm/", views.item_confirm, name="item_confirm"),
    path("<int:pk>/items/<int:item_pk>/dispute/", views.item_dispute, name="item_dispute"),
    path("<int:pk>/visits/<int:visit_pk>/confirm/", views.visit_confirm, name="visit_confirm"),
    path("<int:pk>/report/", views.report_update, name="report_update"),
    path("<int:pk>/sign/<str:purpose>/", views.sign, name="sign"),
    path("<int:pk>/signatures/<int:signature_pk>/image/", views.signature_image, name="signature_image"),
    path("<int:pk>/print/<str:stage>/", views.print_stage, name="print_stage"),
    path("<int:pk>/revoke-access/", views.revoke_access, name="revoke_access"),
]
