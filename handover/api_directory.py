"""The API of what the pages do outside one handover's stages (issue 16): the people directory, the
client book, the archive and its verification, the to-do inbox and notifications, revoking access and
the stage prints. Each view asks the selector or service its page asks, so both refuse alike.
"""

from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import exceptions, generics
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.access import Action, log_access, log_read, note
from accounts.tokens import TokenAuthentication
from clients.filters import PAGE_SIZE, SORTS, CappedPaginator, filter_clients
from clients.models import Grade
from clients.selectors import client_for_detail, client_receivables, client_totals, clients_visible_to
from notifications.models import Notification
from notifications.selectors import notifications_for
from notifications.services import notifications_mark_read

from . import policy, selectors, services
from .api import ApiMixin, HandoverScoped, _errors
from .models import ArchivedDocument
from .serializers import ErrorSerializer
from .serializers_directory import (
    AccessRevokedSerializer,
    ArchiveEntrySerializer,
    ClientDetailSerializer,
    ClientListEntrySerializer,
    CoverEndedSerializer,
    CoverEndSerializer,
    CoverReturnDateSerializer,
    CoverReturnDateSetSerializer,
    InboxEntrySerializer,
    MarkedReadSerializer,
    NotificationFilterSerializer,
    NotificationSerializer,
    PeopleFilterSerializer,
    PersonEntrySerializer,
    VerifyRequestSerializer,
    VerifyResultSerializer,
)

PDF = "application/pdf"
# handover.pdf.STAGE_LISTS, named here without loading WeasyPrint when the URLs load (tested equal).
PRINT_STAGES = ("plan", "materials", "visits")

# ---------------------------------------------------------------------------------------
# People


@extend_schema(
    tags=["people"],
    summary="Find people by name, login or employee number, role and department (their ids start handovers)",
    description="Only the people you may see: HR, managers and administrators see every active person; anyone "
    "else their own department and the supervisors, witnesses, managers and HR; a supervisor also whom the "
    "start page offers them (their own people, and the salespeople who may receive clients). The same rule "
    "as the start page's lists.",
    parameters=[PeopleFilterSerializer],
    responses={200: PersonEntrySerializer(many=True), **_errors(400, 404)},
)
class PeopleView(ApiMixin, generics.ListAPIView):
    serializer_class = PersonEntrySerializer

    def get_queryset(self):
        query = PeopleFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        return selectors.people_search(
            self.request.user,
            q=(data.get("q") or "").strip(),
            role=data.get("role") or "",
            department=data.get("department"),
        )


# ---------------------------------------------------------------------------------------
# Clients: the list page's filters and pagination, the detail page's contents, logged alike


class CappedPagination(PageNumberPagination):
    """The client list page's paging (clients.filters.CappedPaginator): counting a million rows
    exactly is not needed, so the count stops at the cap (count_is_capped) and "next" still shows."""

    page_size = PAGE_SIZE
    page_size_query_param = "page_size"
    max_page_size = 100

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        number = request.query_params.get(self.page_query_param) or 1
        paginator = CappedPaginator(queryset, self.get_page_size(request), page_number=number)
        try:
            self.page = paginator.page(number)
        except Exception as exc:  # InvalidPage and its kin: a page past the end or not a number
            raise exceptions.NotFound(_("Invalid page.")) from exc
        return list(self.page)

    def get_paginated_response(self, data):
        paginator = self.page.paginator
        return Response(
            {
                "count": paginator.count_shown,
                "count_is_capped": paginator.count_is_capped,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema):
        described = super().get_paginated_response_schema(schema)
        described["properties"]["count"]["description"] = "Exact below the cap, else the cap (count_is_capped)."
        described["properties"]["count_is_capped"] = {"type": "boolean"}
        described["required"] = [*described.get("required", []), "count_is_capped"]
        return described


_SORTS = sorted(SORTS) + sorted(f"-{key}" for key in SORTS)


@extend_schema(
    tags=["clients"],
    summary="The clients you see, with the client list page's search, filters and sort",
    description="Through the one visibility rule of the client pages (your own book; a supervisor's department; "
    "the clients of the open handovers you work on; everyone's for managers, HR and administrators). A filter "
    "value that does not apply is ignored, as on the page. Logged like the list page.",
    parameters=[
        OpenApiParameter("q", OpenApiTypes.STR, description="Part of the name, credit code or a contact's phone."),
        OpenApiParameter("grade", OpenApiTypes.STR, enum=Grade.values),
        OpenApiParameter("industry", OpenApiTypes.STR),
        OpenApiParameter("owner", OpenApiTypes.INT, description="An owner's person id."),
        OpenApiParameter("overdue", OpenApiTypes.BOOL, description="true: only with overdue receivables."),
        OpenApiParameter("sort", OpenApiTypes.STR, enum=_SORTS, description="A minus sorts descending."),
    ],
    responses={200: ClientListEntrySerializer(many=True), **_errors(404)},
)
class ClientListView(ApiMixin, generics.ListAPIView):
    serializer_class = ClientListEntrySerializer
    pagination_class = CappedPagination

    def get_queryset(self):
        _form, clients = filter_clients(clients_visible_to(self.request.user), self.request.query_params)
        return clients

    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        log_access(request, Action.LIST_CLIENTS, detail=request.query_params.urlencode())
        return response


@extend_schema(
    tags=["clients"],
    summary="A client as its page shows it: contacts, contracts, receivables with aging, open deals, "
    "follow-ups and the history of its owners",
    description="404 for a client you do not see. Reading it is logged like the client page, refusals too.",
    responses={200: ClientDetailSerializer, **_errors(404)},
)
class ClientDetailView(ApiMixin, APIView):
    def get(self, request, client_id: int):
        try:
            client = client_for_detail(request.user, client_id)
        except Http404:
            raise exceptions.NotFound() from None
        self._client = client
        receivables = client_receivables(client)
        context = {"receivables": receivables, "totals": client_totals(client, receivables)}
        return Response(ClientDetailSerializer(client, context=context).data)

    def finalize_response(self, request, response, *args, **kwargs):
        if request.method == "GET" and getattr(request.user, "is_authenticated", False):
            client = getattr(self, "_client", None)
            if client is not None and response.status_code < 400:
                log_access(request, Action.VIEW_CLIENT, client=client)
            elif response.status_code in (403, 404):
                log_access(request, Action.VIEW_CLIENT, detail=request.path, refused=True)
        return super().finalize_response(request, response, *args, **kwargs)


# ---------------------------------------------------------------------------------------
# The archive (HR and administrators) and its verification (anyone signed in)


@extend_schema(
    tags=["archive"],
    summary="The completed handovers and their archived confirmations, newest first (HR and administrators)",
    description="archived is false while a confirmation is being made (see handovers/{id}/archive/).",
    responses={200: ArchiveEntrySerializer(many=True), **_errors(403, 404)},
)
class ArchiveListView(ApiMixin, generics.ListAPIView):
    serializer_class = ArchiveEntrySerializer

    def get_queryset(self):
        if not policy.is_archivist(self.request.user):
            raise exceptions.PermissionDenied()
        return selectors.archived_handovers()


@extend_schema(
    tags=["archive"],
    summary="Download the archived confirmation (PDF) as stored (HR and administrators)",
    description="404 until it is archived. Logged as a download, refusals too.",
    responses={(200, PDF): OpenApiTypes.BINARY, **_errors(403, 404)},
)
class ArchiveDownloadView(ApiMixin, APIView):
    def get(self, request, pk: int):
        if not policy.is_archivist(request.user):
            raise exceptions.PermissionDenied()
        doc = get_object_or_404(ArchivedDocument.objects.select_related("handover"), handover_id=pk)
        note(request, doc.handover.number)
        # HR who left through this very handover downloads no more of its clients than anyone who left.
        if not policy.may_read_client_data(doc.handover, request.user):
            raise exceptions.PermissionDenied(policy.WITHHELD_MESSAGE)
        response = FileResponse(
            doc.file.open("rb"), as_attachment=True, filename=f"{doc.handover.number}.pdf", content_type=PDF
        )
        response["Cache-Control"] = "private, no-store"
        return response

    def finalize_response(self, request, response, *args, **kwargs):
        if request.method == "GET":
            log_read(request, Action.DOWNLOAD_ARCHIVE, status=response.status_code)
        return super().finalize_response(request, response, *args, **kwargs)


_VERIFY_UPLOAD = {
    "multipart/form-data": {
        "type": "object",
        "properties": {"file": {"type": "string", "format": "binary", "description": "The PDF you were given."}},
        "required": ["file"],
    },
    "application/json": {
        "type": "object",
        "properties": {"code": {"type": "string", "description": "The verification code printed on it."}},
        "required": ["code"],
    },
}


@extend_schema_view(
    get=extend_schema(
        tags=["archive"],
        summary="Does a verification code belong to an archived confirmation?",
        parameters=[OpenApiParameter("code", OpenApiTypes.STR, required=True, description="XXXX-XXXX-XXXX")],
        responses={200: VerifyResultSerializer, **_errors(400)},
    ),
    post=extend_schema(
        tags=["archive"],
        summary="Is this PDF (multipart `file`) or code (`code`) an archived confirmation, its seal intact?",
        description="A file matches only if its bytes are those archived; its company seal is checked too. "
        "matches false is an answer, not an error.",
        request=_VERIFY_UPLOAD,
        responses={200: VerifyResultSerializer, 413: ErrorSerializer, **_errors(400)},
    ),
)
class VerifyView(ApiMixin, APIView):
    def get(self, request):
        code = (request.query_params.get("code") or "").strip()
        if not code:
            raise exceptions.ValidationError({"code": [_("Enter the verification code printed on the document.")]})
        return Response(VerifyResultSerializer(selectors.verify_code(code)).data)

    def post(self, request):
        upload = request.FILES.get("file")
        if upload is not None:
            if upload.size > selectors.MAX_VERIFY_BYTES:
                raise exceptions.ValidationError({"file": [_("The file is too large to be one of our documents.")]})
            return Response(VerifyResultSerializer(selectors.verify_file(upload.read())).data)
        query = VerifyRequestSerializer(data=request.data if hasattr(request.data, "get") else {})
        query.is_valid(raise_exception=True)
        code = (query.validated_data.get("code") or "").strip()
        if not code:
            raise exceptions.ValidationError(
                _("Enter the verification code printed on the document, or choose its PDF file.")
            )
        return Response(VerifyResultSerializer(selectors.verify_code(code)).data)


# ---------------------------------------------------------------------------------------
# The to-do inbox and the notifications


@extend_schema(
    tags=["inbox"],
    summary="What you must act on now (the to-do inbox), most urgent first",
    responses={200: InboxEntrySerializer(many=True), **_errors()},
)
class InboxView(ApiMixin, APIView):
    # What one person must do now: a short list, whole.
    pagination_class = None

    def get(self, request):
        return Response(InboxEntrySerializer(selectors.inbox_for(request.user), many=True).data)


@extend_schema(
    tags=["notifications"],
    summary="Your notifications, newest first",
    parameters=[NotificationFilterSerializer],
    responses={200: NotificationSerializer(many=True), **_errors(400, 404)},
)
class NotificationListView(ApiMixin, generics.ListAPIView):
    serializer_class = NotificationSerializer

    def get_queryset(self):
        query = NotificationFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        notifications = notifications_for(self.request.user)
        unread = query.validated_data.get("unread")
        if unread is not None:
            notifications = notifications.filter(read_at__isnull=unread)
        return notifications


@extend_schema(
    tags=["notifications"],
    summary="Mark one of your notifications read",
    request=None,
    responses={200: NotificationSerializer, **_errors(400, 404)},
)
class NotificationReadView(ApiMixin, APIView):
    def post(self, request, notification_id: int):
        # Someone else's notification is as absent as a missing one.
        if not Notification.objects.filter(user=request.user, pk=notification_id).exists():
            raise exceptions.NotFound()
        notifications_mark_read(user=request.user, ids=[notification_id])
        return Response(NotificationSerializer(notifications_for(request.user).get(pk=notification_id)).data)


@extend_schema(
    tags=["notifications"],
    summary="Mark all your notifications read",
    request=None,
    responses={200: MarkedReadSerializer, **_errors(400)},
)
class NotificationsReadAllView(ApiMixin, APIView):
    def post(self, request):
        return Response({"count": notifications_mark_read(user=request.user)})


# ---------------------------------------------------------------------------------------
# After completion: HR revokes the departed person's access; and the stage prints


@extend_schema(
    tags=["handovers"],
    summary="Revoke the departed person's system access (HR, once the handover is completed)",
    description="Deactivates the account and its API tokens, and closes HR's revoke duty. 409 before "
    "completion or once revoked.",
    request=None,
    responses={200: AccessRevokedSerializer, **_errors(400, 403, 404, 409)},
)
class RevokeAccessView(HandoverScoped):
    serializer_class = AccessRevokedSerializer

    def post(self, request, pk: int):
        h = self.get_handover()
        services.handover_revoke_access(handover=h, user=request.user)
        h.departing.refresh_from_db(fields=["is_active"])
        body = {"handover": h.pk, "departing": h.departing, "active": h.departing.is_active}
        return Response(AccessRevokedSerializer(body).data)


@extend_schema(
    tags=["handovers"],
    summary="End a cover early (提前结束代管; HR, once the cover's handover is completed)",
    description="A cover is a handover for a long leave, a maternity leave or a temporary transfer: completion "
    "moves the clients to the cover person, and on the return date they go back by themselves. Here HR ends it "
    "before: every client the cover person still holds goes back to the absent person now, each with its "
    "history row; both sides are told. If the absent person has left or is leaving, nothing moves "
    "(ended false, with the refusal) and HR and their supervisor are told. 403 for anyone but HR; 409 for a "
    "handover that is no cover, not yet completed, or whose cover has ended.",
    request=CoverEndSerializer,
    responses={200: CoverEndedSerializer, **_errors(400, 403, 404, 409)},
)
class CoverEndView(HandoverScoped):
    serializer_class = CoverEndedSerializer

    def post(self, request, pk: int):
        self.parse(CoverEndSerializer)
        result = services.cover_end(handover=self.get_handover(), by=request.user)
        body = {
            "handover": result.handover.pk,
            "ended": result.ended,
            "cover_status": result.handover.cover_status,
            "returned": result.returned,
            "stayed": result.stayed,
            "refusal": result.refusal,
        }
        return Response(CoverEndedSerializer(body).data)


@extend_schema(
    tags=["handovers"],
    summary="Change the return date of a cover (HR, until the cover ends)",
    description="An extended leave, or an earlier return: the cover ends by itself on the new date. The same "
    "rules as at the start (after the last working day, at most two years after it), and not before today. 403 "
    "for anyone but HR; 409 for a handover that is no cover, or whose cover has ended or was refused.",
    request=CoverReturnDateSerializer,
    responses={200: CoverReturnDateSetSerializer, **_errors(400, 403, 404, 409)},
)
class CoverReturnDateView(HandoverScoped):
    serializer_class = CoverReturnDateSetSerializer

    def post(self, request, pk: int):
        data = self.parse(CoverReturnDateSerializer)
        h = services.cover_set_return_date(handover=self.get_handover(), by=request.user, returns_on=data["returns_on"])
        body = {"handover": h.pk, "returns_on": h.returns_on, "cover_status": h.cover_status}
        return Response(CoverReturnDateSetSerializer(body).data)


class StagePrintView(HandoverScoped):
    read_action = Action.PRINT_HANDOVER

    @extend_schema(
        tags=["handovers"],
        summary="A stage's list as a PDF: the plan, the materials or the visits (the page's print)",
        description="For the people of the handover, never the departing person. Logged as a print.",
        parameters=[OpenApiParameter("stage", OpenApiTypes.STR, OpenApiParameter.PATH, enum=PRINT_STAGES)],
        responses={(200, PDF): OpenApiTypes.BINARY, **_errors(403, 404)},
    )
    def get(self, request, pk: int, stage: str):
        # WeasyPrint takes about a second to load: loaded on the first print, as the page does.
        from . import pdf

        h = self.get_handover()
        if stage not in pdf.STAGE_LISTS:
            raise Http404
        if not policy.may_print(h, request.user):
            raise exceptions.PermissionDenied()
        response = HttpResponse(pdf.render_stage_list(h, stage), content_type=PDF)
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=False, filename=pdf.filename(h, stage)
        )
        response["Cache-Control"] = "private, no-store"
        return response


# ---------------------------------------------------------------------------------------
# The docs page: for a browser signed in, and for an API client with its token alike


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI over /api/schema/. Signed in by the session or by a token: a token user is served
    the page, not sent to the login page; a browser with neither goes to the login page as before."""

    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    url_name = "api:schema"
    template_name = "api/swagger_ui.html"

    def handle_exception(self, exc):
        no_token = not self.request.META.get("HTTP_AUTHORIZATION")
        if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed) and no_token:
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)
