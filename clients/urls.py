from django.urls import path

from . import views, views_import

app_name = "clients"

urlpatterns = [
    path("", views.client_list, name="list"),
    path("<int:pk>/", views.client_detail, name="detail"),
    path("import/", views_import.client_import, name="import"),
    path("import/template/", views_import.client_import_template, name="import_template"),
    path("export/", views.client_export, name="export"),
    path("<int:pk>/follow-ups/new/", views.follow_up_add, name="follow_up_add"),
    path("<int:pk>/lost/", views.client_mark_lost_view, name="mark_lost"),
    path("<int:pk>/reactivate/", views.client_reactivate_view, name="reactivate"),
]
