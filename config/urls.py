from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.defaults import page_not_found, server_error
from django.views.i18n import set_language

from accounts import views as account_views
from handover.api_errors import error_response, is_api

urlpatterns = [
    path("", account_views.home, name="home"),
    path("accounts/", include("accounts.urls")),
    path("notifications/", include("notifications.urls")),
    path("clients/", include("clients.urls")),
    path("handovers/", include("handover.urls")),
    path("api/", include("handover.api_urls")),
    # The language switch is on every page, the login page included: it only sets a cookie.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
]

# No media URL, not even with DEBUG on: the only files under MEDIA_ROOT are archived
# confirmations, served by handover:archive_download after its permission check.


# Under /api/ every answer is JSON in the API's error shape, even for a path no view matches
# (/api/handovers/abc/) or a crash: API clients parse it, and the schema promises it. (With DEBUG
# on, Django shows its HTML pages instead of these; handover.api_errors.ApiErrorMiddleware
# shapes those too.)
def handler404(request, exception):
    if is_api(request):
        return error_response(request, 404)
    return page_not_found(request, exception)


def handler500(request):
    if is_api(request):
        return error_response(request, 500)
    return server_error(request)
