from django.urls import path

from . import views

# No app namespace: the names are the ones the pages and tests have always used.
urlpatterns = [
    path("", views.notification_list, name="notifications"),
    path("<int:pk>/read/", views.notification_read, name="notification_read"),
    path("read-all/", views.notification_read_all, name="notifications_read_all"),
]
