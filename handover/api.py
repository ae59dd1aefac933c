"""The JSON API under /api/: the same services as the pages, spoken over HTTP.

Views here only parse, look up what the requester may see, call a service and shape the
answer. Who may do what is decided in handover/policy.py, and when in handover/services/ and
handover/models.py; every read goes through handover/selectors/. The services' errors become
JSON with a status and a code (see exception_handler).
"""

import contextlib

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from drf_spectacular.renderers import (
    OpenApiJsonRenderer,
    OpenApiJsonRenderer2,
    OpenApiYamlRenderer,
    OpenApiYamlRenderer2,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView
from rest_framework import exceptions, generics, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from accounts.access import Action, log_anonymous, log_read, note
from accounts.auth import ThrottledAuthTokenSerializer
from accounts.tokens import TokenAuthentication, api_token_create
from clients.followups import FollowUpForm, NotAllowedToRecord, follow_up_record, may_record_follow_up
from clients.importer import XLSX_CONTENT_TYPE
from clients.models import Client
from clients.selectors import clients_visible_to
from clients.status import ClientLostForm, StatusRefused, client_mark_lost, client_reactivate, may_change_client_status

from . import policy, selectors, services, signing
from .api_errors import JSONParser
from .forms import EvaluationForm, PlanSheetForm
from .http import answer_rate_limited, signature_input
from .idempotency import IdempotencySchema, IdempotentWrites
from .models import (
    APPROVAL_SIGNATURES,
    TRANSITIONS,
    TRANSITIONS_NEEDING_REASON,
    ChecklistItem,
    Handover,
    State,
)
from .policy import WITHHELD_MESSAGE, is_archivist, may_download_plan, may_read_client_data
from .serializers import (
    ArchiveStatusSerializer,
    ChecklistItemSerializer,
    ClientAnswerResultSerializer,
    ClientAnswerSerializer,
    ClientStatusChangeSerializer,
    ClientStatusSerializer,
    ClientSuggestionsSerializer,
    ClientSurveyAnswerSerializer,
    ClientSurveyResultSerializer,
    CountSerializer,
    DashboardFilterSerializer,
    DashboardSerializer,
    DisputeAnswerSerializer,
    DisputeSerializer,
    DutyFilterSerializer,
    DutySerializer,
    ErrorSerializer,
    EvaluationCreateSerializer,
    EvaluationStateSerializer,
    EventSerializer,
    FollowUpCreateSerializer,
    FollowUpRecordedSerializer,
    FollowUpSerializer,
    HandoverClientDropSerializer,
    HandoverClientSerializer,
    HandoverClientUpdateSerializer,
    HandoverCreateSerializer,
    HandoverDetailSerializer,
    HandoverListSerializer,
    HandoverOutcomesSerializer,
    HandoverRisksSerializer,
    HandOverSerializer,
    HrDepartureInputSerializer,
    HrDepartureSerializer,
    ItemsConfirmSerializer,
    NoticeDeliverySerializer,
    NoticeMarkSerializer,
    NoticeQueuedSerializer,
    NoticesSendSerializer,
    NoticesSerializer,
    OutcomeSerializer,
    PhoneCheckCreateSerializer,
    PhoneCheckRowsResultSerializer,
    PhoneCheckRowsSerializer,
    PhoneCheckSerializer,
    PlanRowsResultSerializer,
    PlanRowsSerializer,
    ReceiverChoiceSerializer,
    ReceiversChangedSerializer,
    ReceiversSetSerializer,
    ReportSerializer,
    ReportUpdateSerializer,
    SheetUploadSerializer,
    SignatureCreateSerializer,
    SignatureSerializer,
    SplitApplySerializer,
    SplitPreviewRequestSerializer,
    SplitPreviewSerializer,
    StateFilterSerializer,
    SurveysSerializer,
    TokenSerializer,
    TransitionSerializer,
    VersionSerializer,
    VisitCreateSerializer,
    VisitRowsResultSerializer,
    VisitRowsSerializer,
    VisitsConfirmSerializer,
    VisitSerializer,
)

# ---------------------------------------------------------------------------------------
# Errors: one shape for every failure, {"detail", "code", "field"?, "errors"?}

_CODE_BY_STATUS = {
    400: "invalid",
    401: "not_authenticated",
    403: "not_allowed",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
}


def _handover_error_code(exc: services.HandoverError) -> str:
    if getattr(exc, "code", None):
        return exc.code
    if isinstance(exc, services.WrongState):
        return "wrong_state"
    if isinstance(exc, services.Conflict):
        return "conflict"
    if isinstance(exc, services.NotAllowed):
        return "not_allowed"
    return _CODE_BY_STATUS.get(exc.status, "invalid")


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """{field: [message, ...]} from a ValidationError's detail, nested fields joined with dots."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list) and any(isinstance(d, dict | list) for d in detail):
        out = {}
        for i, value in enumerate(detail):
            out.update(_flatten(value, f"{prefix}.{i}" if prefix else str(i)))
        return out
    messages = detail if isinstance(detail, list) else [detail]
    return {prefix or "non_field_errors": [str(m) for m in messages]}


def exception_handler(exc, context):
    if isinstance(exc, services.HandoverError):
        body = {"detail": exc.message, "code": _handover_error_code(exc)}
        if exc.field:
            body["field"] = exc.field
        if isinstance(exc, services.RowErrors):
            body["code"] = {409: "conflict", 403: "not_allowed"}.get(exc.status, "invalid")
            body["errors"] = {
                f"rows.{pk}.{name}": [message] for pk, fields in exc.rows.items() for name, message in fields.items()
            }
            body["rows"] = {str(pk): errors for pk, errors in exc.rows.items()}
            body["conflicts"] = sorted(exc.conflicts)
        if isinstance(exc, services.SheetErrors):
            if exc.status == 409:
                body["code"] = "conflict"
            errors: dict[str, list[str]] = {}
            for e in exc.errors:
                errors.setdefault(".".join(str(p) for p in (e.row, e.column) if p) or "non_field_errors", []).append(
                    e.message
                )
            body["errors"] = errors
            body["cells"] = [
                {"sheet": e.sheet, "row": e.row, "column": e.column, "message": e.message} for e in exc.errors
            ]
        return Response(body, status=exc.status)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: let Django log it and answer 500
    if isinstance(exc, exceptions.ValidationError):
        errors = _flatten(exc.detail)
        field, messages = next(iter(errors.items()))
        body = {"detail": messages[0], "code": "invalid", "errors": errors}
        if field != "non_field_errors":
            body["field"] = field
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        code = _CODE_BY_STATUS.get(response.status_code) or getattr(exc, "default_code", "error")
        body = {"detail": str(detail), "code": code}
    response.data = body
    return response


def _errors(*codes: int) -> dict[int, OpenApiResponse]:
    described = {
        400: "Invalid input, or a condition of the step is not met.",
        401: "Not authenticated.",
        403: "You may not do this.",
        404: "No such handover (or not visible to you), no such object in it, or no such page.",
        409: "Wrong state for this, or the handover was changed since the version you sent.",
    }
    return {code: OpenApiResponse(ErrorSerializer, description=described[code]) for code in (401, *codes)}


# ---------------------------------------------------------------------------------------
# The base: token or session, JSON only, never a redirect to the login page


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class ApiMixin(IdempotentWrites):
    # Token first, so an anonymous request hears 401 with "WWW-Authenticate: Token".
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]
    # JSON nested too deep is a 400, not a RecursionError.
    parser_classes = [JSONParser, FormParser, MultiPartParser]
    # Every write takes an Idempotency-Key (handover/idempotency.py), and the schema says so.
    schema = IdempotencySchema()
    pagination_class = Pagination
    # No login_not_required needed: DRF marks its views exempt from LoginRequiredMiddleware (which
    # only knows sessions) and answers an anonymous request itself, 401 in JSON.


class LoggedReads:
    """Every GET under /api/handovers/{id}/ reads client data (and the duties' list, which names
    clients): one access-log row, refusals included."""

    # A print says so in the log, as the page's print does.
    read_action = Action.API_HANDOVER

    def finalize_response(self, request, response, *args, **kwargs):
        # Only views that answer GET read; a GET refused as 405 by an action read nothing.
        if request.method == "GET" and hasattr(self, "get"):
            log_read(request, self.read_action, status=response.status_code)
        return super().finalize_response(request, response, *args, **kwargs)


class HandoverScoped(LoggedReads, ApiMixin, generics.GenericAPIView):
    """A view under /api/handovers/{id}/: the handover must be visible to the requester, or 404;
    and its clients' data open to them (policy.may_read_client_data), or 403."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Not visible is 404 before anything else is looked at, so a stranger learns nothing.
        self.get_handover()

    def get_handover(self) -> Handover:
        if not hasattr(self, "_handover"):
            self._handover = _visible_handover(self.request, self.kwargs["pk"])
        return self._handover

    def parse(self, serializer_class, **kwargs) -> dict:
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def child(self, queryset, pk):
        """An object of this handover; one of another handover is as absent as a missing one."""
        obj = selectors.row_in(queryset, pk)
        if obj is None:
            raise exceptions.NotFound()
        return obj

    def detail_response(self, status_code: int = status.HTTP_200_OK) -> Response:
        return _detail_response(self.request, self.get_handover().pk, status_code)


def _visible_handover(request, pk, *, detail: bool = False) -> Handover:
    user = request.user
    h = selectors.handover_for_api(user, pk, detail=detail)
    if h is None:
        raise exceptions.NotFound()
    note(request, f"handover {h.number}")
    if not may_read_client_data(h, user):
        # The list still gives them the handover's header.
        raise exceptions.PermissionDenied(WITHHELD_MESSAGE)
    return h


def _detail_response(request, pk: int, status_code: int = status.HTTP_200_OK) -> Response:
    h = _visible_handover(request, pk, detail=True)
    context = {
        "request": request,
        "available_transitions": selectors.transitions_for(h, request.user),
        # Each client's relationship risk, for the whole handover at once.
        "risks": selectors.client_risks(h),
    }
    return Response(HandoverDetailSerializer(h, context=context).data, status=status_code)


class SchemaView(ApiMixin, SpectacularAPIView):
    """The OpenAPI 3 document; JSON unless asked for ?format=yaml."""

    renderer_classes = [OpenApiJsonRenderer, OpenApiJsonRenderer2, OpenApiYamlRenderer, OpenApiYamlRenderer2]

    def handle_exception(self, exc):
        # An error is not a schema: plain JSON in the API's shape, whatever format was asked for.
        response = super().handle_exception(exc)
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response


# ---------------------------------------------------------------------------------------
# Authentication


@extend_schema(
    tags=["auth"],
    summary="Obtain an API token",
    description='Send the token on every request as the header "Authorization: Token <token>". It expires at '
    '"expiry", and at once when the password changes or the account is deactivated; then obtain a new one.',
    request=ThrottledAuthTokenSerializer,
    responses={
        200: TokenSerializer,
        400: OpenApiResponse(ErrorSerializer, description="Wrong credentials."),
        429: OpenApiResponse(ErrorSerializer, description="Too many failed attempts; try again later."),
    },
    auth=[],
)
class TokenView(ApiMixin, APIView):
    # No session here: a logged-in browser posting without a CSRF token must not be refused.
    authentication_classes = []
    permission_classes = []
    # Its answer is a secret: never stored for an Idempotency-Key replay.
    idempotency_key = False
    # Failed attempts are counted with the login page's, and refused alike once too many.
    serializer_class = ThrottledAuthTokenSerializer

    def post(self, request):
        serializer = self.serializer_class(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        token, expiry = api_token_create(user=serializer.validated_data["user"])
        return Response(TokenSerializer({"token": token, "expiry": expiry}).data)


# ---------------------------------------------------------------------------------------
# Handovers


@extend_schema_view(
    get=extend_schema(
        tags=["handovers"],
        summary="List the handovers visible to you",
        parameters=[OpenApiParameter("state", OpenApiTypes.STR, enum=State.values)],
        responses={200: HandoverListSerializer(many=True), **_errors(400, 404)},
    ),
    post=extend_schema(
        tags=["handovers"],
        summary="Start a handover (HR, or the departing person's supervisor)",
        request=HandoverCreateSerializer,
        responses={201: HandoverDetailSerializer, **_errors(400, 403, 409)},
    ),
)
class HandoverListView(ApiMixin, generics.ListAPIView):
    serializer_class = HandoverListSerializer

    def get_queryset(self):
        query = StateFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return selectors.handovers_for_api(self.request.user, state=query.validated_data.get("state") or "")

    def post(self, request):
        serializer = HandoverCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        h = services.handover_start(started_by=request.user, **serializer.validated_data)
        return _detail_response(request, h.pk, status.HTTP_201_CREATED)


@extend_schema(
    tags=["handovers"],
    summary="A handover, with its clients, deadlines and the transitions you may run now",
    responses={200: HandoverDetailSerializer, **_errors(403, 404)},
)
class HandoverDetailView(LoggedReads, ApiMixin, APIView):
    def get(self, request, pk: int):
        # It lists the handover's clients: reading it is logged like a client page.
        return _detail_response(request, pk)


@extend_schema(
    tags=["handovers"],
    summary="Run one transition of the procedure",
    description=(
        "The transitions you may run now are listed in the handover's available_transitions. "
        f"These need a comment (the reason): {', '.join(sorted(TRANSITIONS_NEEDING_REASON))}. "
        f"These need the approver's signature in `signature`: {', '.join(sorted(APPROVAL_SIGNATURES))}."
    ),
    parameters=[OpenApiParameter("name", OpenApiTypes.STR, OpenApiParameter.PATH, enum=TRANSITIONS)],
    request=TransitionSerializer,
    responses={200: HandoverDetailSerializer, **_errors(400, 403, 404, 409)},
)
class HandoverTransitionView(HandoverScoped):
    serializer_class = TransitionSerializer

    def post(self, request, pk: int, name: str):
        h = self.get_handover()
        data = self.parse(TransitionSerializer)
        services.handover_transition(
            handover=h,
            name=name,
            user=request.user,
            comment=data["comment"],
            expected_version=data.get("version"),
            signature=signature_input(request, data["signature"]) if data.get("signature") else None,
        )
        return self.detail_response()


# ---------------------------------------------------------------------------------------
# The archived confirmation: made in the background after the final approval


class _ArchiveScoped(HandoverScoped):
    serializer_class = ArchiveStatusSerializer

    def archive_status(self) -> dict:
        h = self.get_handover()
        if not is_archivist(self.request.user):
            raise exceptions.PermissionDenied()
        if h.state != State.COMPLETED:
            raise services.WrongState(_("The handover is not completed; it has no confirmation yet."))
        status_ = selectors.archive_status(h, self.request.user)
        if status_["download_url"]:
            # The API's download: the page's asks a token client to log in.
            status_["download_url"] = reverse("api:archive-download", args=[h.pk])
        return status_


@extend_schema(
    tags=["archive"],
    summary="The archived confirmation's progress (HR and administrators); poll while pending",
    responses={200: ArchiveStatusSerializer, **_errors(403, 404, 409)},
)
class ArchiveStatusView(_ArchiveScoped):
    def get(self, request, pk: int):
        status_ = self.archive_status()
        if status_["state"] == "pending":
            services.archives_ask_again([status_["handover_id"]])
        return Response(ArchiveStatusSerializer(status_).data)


@extend_schema(
    tags=["archive"],
    summary="Ask again for an archived confirmation that failed or never came; made in the background",
    request=None,
    responses={202: ArchiveStatusSerializer, **_errors(403, 404, 409)},
)
class ArchiveRetryView(_ArchiveScoped):
    def post(self, request, pk: int):
        self.archive_status()
        services.archive_retry(handover=self.get_handover(), user=request.user)
        return Response(ArchiveStatusSerializer(self.archive_status()).data, status=status.HTTP_202_ACCEPTED)


# ---------------------------------------------------------------------------------------
# Clients of the handover: the plan and who receives each


@extend_schema_view(
    get=extend_schema(
        tags=["plan"],
        summary="One client of the handover",
        responses={200: HandoverClientSerializer, **_errors(403, 404)},
    ),
    patch=extend_schema(
        tags=["plan"],
        summary="Fill in the plan for a client and/or change who receives it",
        description="Plan fields left out keep their value. Changing the receiver sends the client's items back "
        "to not handed over.",
        request=HandoverClientUpdateSerializer,
        responses={200: HandoverClientSerializer, **_errors(400, 403, 404, 409)},
    ),
)
class HandoverClientView(HandoverScoped):
    serializer_class = HandoverClientSerializer

    def get_object(self):
        return self.child(selectors.handover_clients(self.get_handover()), self.kwargs["hc_id"])

    def client_data(self) -> dict:
        context = {"risks": selectors.client_risks(self.get_handover())}
        return HandoverClientSerializer(self.get_object(), context=context).data

    def get(self, request, pk: int, hc_id: int):
        return Response(self.client_data())

    def patch(self, request, pk: int, hc_id: int):
        hc = self.get_object()
        data = self.parse(HandoverClientUpdateSerializer)
        fields = HandoverClientUpdateSerializer.PLAN_FIELDS
        version = data.get("version")
        # Both changes or neither; the first service keeps the handover locked until the end.
        with transaction.atomic():
            if any(f in data for f in fields):
                plan = {f: data[f] if f in data else getattr(hc, f) for f in fields}
                services.handover_client_update_plan(
                    handover_client=hc, user=request.user, expected_version=version, **plan
                )
                version = None
            if "receiver" in data:
                services.handover_client_set_receiver(
                    handover_client=hc, user=request.user, receiver=data["receiver"], expected_version=version
                )
        return Response(self.client_data())


@extend_schema(
    tags=["plan"],
    summary="Save several clients' plan rows together (the plan grid, 保存全部)",
    description="All rows or none. Each row's fields left out keep their value; planned_visit_on null clears it; "
    "a receiver changes who receives the client. Saving a row confirms the fields prefilled from the client book. "
    "Give each row's row_version: a row changed by someone else since is a conflict of that row only (409 when "
    'every refused row is a conflict). Refusals name the row and field: errors["rows.<id>.<field>"].',
    request=PlanRowsSerializer,
    responses={200: PlanRowsResultSerializer, **_errors(400, 403, 404, 409)},
)
class PlanRowsView(HandoverScoped):
    serializer_class = PlanRowsSerializer

    def post(self, request, pk: int):
        h = self.get_handover()
        data = self.parse(PlanRowsSerializer)
        rows = []
        for row in data["rows"]:
            day_given = "planned_visit_on" in row
            rows.append(
                services.PlanRow(
                    row["handover_client"],
                    current_status=row.get("current_status"),
                    risks=row.get("risks"),
                    next_steps=row.get("next_steps"),
                    planned_visit_on=row.get("planned_visit_on"),
                    clear_planned_visit=day_given and row["planned_visit_on"] is None,
                    receiver=row.get("receiver"),
                    row_version=row.get("row_version"),
                )
            )
        saved = services.plan_save_rows(handover=h, user=request.user, rows=rows)
        clients = selectors.handover_clients(h).filter(pk__in=[hc.pk for hc in saved])
        context = {"risks": selectors.client_risks(h)}
        return Response(
            {
                "saved": [hc.pk for hc in saved],
                "clients": HandoverClientSerializer(clients, many=True, context=context).data,
            }
        )


@extend_schema(
    tags=["plan"],
    summary="Each client's relationship risk: its level and the factors, each with its reason",
    description="The factors: only one contact; only the departing person followed up; the decision maker "
    "known only to them; open objections; overdue receivables; a contract ending or up for renewal within "
    "90 days; no follow-up in 60 days. The level follows from how many apply (`rule`). sample_risk is the "
    "level stored with the spot-check draw: a client high then is always in the sample.",
    parameters=[
        OpenApiParameter(
            "sort", OpenApiTypes.STR, enum=["", "risk"], description="risk: high risk first; left out: the plan's order"
        )
    ],
    responses={200: HandoverRisksSerializer, **_errors(403, 404)},
)
class HandoverRisksView(HandoverScoped):
    serializer_class = HandoverRisksSerializer

    def get(self, request, pk: int):
        h = self.get_handover()
        risks = selectors.client_risks(h)
        rows = [
            {
                "handover_client": hc.pk,
                "client": hc.client,
                "grade": hc.grade,
                "receiver": hc.receiver,
                "in_sample": hc.in_sample,
                "sample_risk": hc.sample_risk,
                "risk": risks[hc.pk],
            }
            for hc in selectors.handover_clients(h).order_by("grade", "client__name", "id")
        ]
        if request.query_params.get("sort") == "risk":
            rows = selectors.by_risk(rows, lambda r: r["risk"].level)
        data = {"rule": selectors.rule_text(), "factors": selectors.factor_labels(), "clients": rows}
        return Response(HandoverRisksSerializer(data).data)


@extend_schema(
    tags=["plan"],
    summary="Remove a client the departing salesperson no longer owns (supervisor, with the reason)",
    description="Completion moves only the clients the departing salesperson still owns; a client that left "
    "their book meanwhile would stop it. The supervisor removes such a client, with its items, visits and "
    "calls; the timeline keeps the client and the reason. A client still owned cannot be removed.",
    request=HandoverClientDropSerializer,
    responses={200: HandoverDetailSerializer, **_errors(400, 403, 404, 409)},
)
class HandoverClientDropView(HandoverScoped):
    serializer_class = HandoverClientDropSerializer

    def post(self, request, pk: int, hc_id: int):
        hc = self.child(selectors.handover_clients(self.get_handover()), hc_id)
        data = self.parse(HandoverClientDropSerializer)
        services.handover_client_drop(
            handover_client=hc, user=request.user, reason=data["reason"], expected_version=data.get("version")
        )
        return self.detail_response()


_PLAN_SHEET_UPLOAD = {
    "multipart/form-data": {
        "type": "object",
        "properties": {
            "file": {
                "type": "string",
                "format": "binary",
                "description": "The plan's .xlsx as downloaded, filled in. Keep the hidden columns (row id and "
                "row version).",
            }
        },
        "required": ["file"],
    }
}


@extend_schema_view(
    get=extend_schema(
        tags=["plan"],
        summary="Download the plan as an .xlsx",
        description="One row per client: client, grade, receiver, current status, risks, next steps, planned "
        "visit date, and the hidden row id and row version the upload needs; last, each client's relationship "
        "risk (its level and reasons), read only: the upload ignores it. Fields prefilled from the book "
        "and not yet confirmed are shaded. The departing salesperson may download it while the plan is open; "
        "the other people of the handover whenever they may print its lists.",
        responses={(200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY, **_errors(403, 404)},
    ),
    post=extend_schema(
        tags=["plan"],
        summary="Upload the filled-in plan (.xlsx): every row saved, or none",
        description="Read under the client-book import's limits (IMPORT_MAX_BYTES, IMPORT_MAX_ROWS) and saved "
        "by the same rules as the grid. Blank text cells clear the field; the receiver is a name or an "
        "employee number. On any error nothing is saved and the answer lists every problem in `cells`, by "
        "sheet row and column; a row someone changed since the download is an error of that row (its row "
        "version). The departing salesperson uploads the plan; the supervisor may change receivers only. "
        "Answers the number of clients whose rows changed.",
        request=_PLAN_SHEET_UPLOAD,
        responses={200: CountSerializer, **_errors(400, 403, 404, 409)},
    ),
)
class PlanSheetView(HandoverScoped):
    serializer_class = CountSerializer

    def get(self, request, pk: int):
        h = self.get_handover()
        if not may_download_plan(h, request.user, plan_open=h.state == State.PLAN):
            raise exceptions.PermissionDenied()
        response = HttpResponse(services.plan_workbook(h), content_type=XLSX_CONTENT_TYPE)
        response["Content-Disposition"] = content_disposition_header(
            as_attachment=True, filename=services.plan_filename(h)
        )
        return response

    def post(self, request, pk: int):
        # The page's form: a file, within IMPORT_MAX_BYTES before anything reads it.
        form = PlanSheetForm(data=request.data, files=request.FILES)
        if not form.is_valid():
            raise exceptions.ValidationError(form.errors)
        upload = form.cleaned_data["file"]
        saved = services.plan_sheet_upload(
            handover=self.get_handover(), user=request.user, data=upload.read(), filename=upload.name
        )
        return Response({"count": len(saved)})


# ---------------------------------------------------------------------------------------
# Receivers in bulk


def _changed(clients) -> Response:
    ids = [hc.pk for hc in clients]
    return Response(ReceiversChangedSerializer({"changed": ids, "count": len(ids)}).data)


@extend_schema(
    tags=["plan"],
    summary="Give many clients to one receiver (the departing salesperson or the supervisor, at the plan)",
    description="The clients given in handover_clients (each with the row_version you read: a row changed since "
    "is a conflict of that row), or else the current clients matching grade, industry and region (all of "
    "them when those are left out). All of them or none; each client that changes hands gets its line on "
    "the timeline and its items go back to not handed over. A refusal by row comes with `rows` and "
    "`conflicts`.",
    request=ReceiversSetSerializer,
    responses={200: ReceiversChangedSerializer, **_errors(400, 403, 404, 409)},
)
class ReceiversSetView(HandoverScoped):
    serializer_class = ReceiversSetSerializer

    def post(self, request, pk: int):
        serializer = ReceiversSetSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        changed = services.receivers_set(
            handover=self.get_handover(),
            user=request.user,
            receiver=data["receiver"],
            pick=serializer.pick(data),
            expected_version=data.get("version"),
        )
        return _changed(changed)


@extend_schema(
    tags=["plan"],
    summary="Preview an automatic split of clients among several receivers (writes nothing)",
    description="Balanced by number of clients, A clients and outstanding receivables, counting what each "
    "receiver already receives in this handover: A clients first (largest receivable first) to the receiver "
    "with the fewest A clients, then the others to the one with the fewest clients, ties to the least "
    "outstanding receivables, then the smaller book. The same input always gives the same split. With mode "
    '"fit" (按匹配度分配) each client goes to its best-fit candidate with room under their client cap instead '
    "(see receivers/suggestions), among the receivers given or, none given, every possible receiver. Each "
    "receiver's `held` against `cap` shows what they would hold; a split beyond a cap is refused on apply "
    '(400, code "over_cap"). Send `assignment` and `digest` back to receivers/split-apply to apply exactly this.',
    request=SplitPreviewRequestSerializer,
    responses={200: SplitPreviewSerializer, **_errors(400, 403, 404, 409)},
)
class ReceiversSplitPreviewView(HandoverScoped):
    serializer_class = SplitPreviewRequestSerializer

    def post(self, request, pk: int):
        serializer = SplitPreviewRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        preview = services.receivers_split_preview(
            handover=self.get_handover(),
            user=request.user,
            receivers=data["receivers"],
            pick=serializer.pick(data),
            mode=data["mode"],
        )
        return Response(SplitPreviewSerializer(preview).data)


@extend_schema(
    tags=["plan"],
    summary="Apply a previewed split exactly as it was shown",
    description="Give back the preview's assignment (handover_client, receiver, row_version per client) and its "
    "digest. A different assignment is refused (400); a client changed since the preview is a conflict of "
    "that row (409), and nothing is written.",
    request=SplitApplySerializer,
    responses={200: ReceiversChangedSerializer, **_errors(400, 403, 404, 409)},
)
class ReceiversSplitApplyView(HandoverScoped):
    serializer_class = SplitApplySerializer

    def post(self, request, pk: int):
        data = self.parse(SplitApplySerializer)
        rows = data["assignment"]
        changed = services.receivers_split_apply(
            handover=self.get_handover(),
            user=request.user,
            assignment={r["handover_client"]: r["receiver"] for r in rows},
            row_versions={r["handover_client"]: r["row_version"] for r in rows},
            digest=data["digest"],
            expected_version=data.get("version"),
        )
        return _changed(changed)


@extend_schema(
    tags=["plan"],
    summary="Receiver suggestions: for each client, the candidates ranked by fit, with the reasons",
    description="For the departing salesperson and the supervisor while the plan is open (403 otherwise). "
    "The candidates are the plan's receiver choices (receivers/). Each is weighed on experience (clients of "
    "their book in the client's industry and region, those lost, those received in completed handovers and "
    "kept), relationship (owned the client before, follow-ups of it and with how many contacts) and load "
    "(clients held, A clients, outstanding receivables, open deals) against their client cap, set in the "
    "admin. `reasons` says it in words. A candidate whose cap leaves no room is last, with `full`. `limit`: "
    "candidates per client (default 3).",
    parameters=[OpenApiParameter("limit", int, description="Candidates per client, 1 to 20 (default 3).")],
    responses={200: ClientSuggestionsSerializer(many=True), **_errors(400, 403, 404, 409)},
)
class ReceiverSuggestionsView(HandoverScoped):
    serializer_class = ClientSuggestionsSerializer
    pagination_class = None

    def get(self, request, pk: int):
        h = self.get_handover()
        # A working tool of the plan, as its page: refused to anyone else and once the plan is over.
        if not selectors.receivers_bulk_allowed(h, request.user):
            raise services.NotAllowed(
                _(
                    "The receiver suggestions are for the departing salesperson and the supervisor, "
                    "while the plan is open."
                )
            )
        raw = request.query_params.get("limit", "3")
        if not raw.isdigit() or not 1 <= int(raw) <= 20:
            raise exceptions.ValidationError({"limit": [_("Give a number from 1 to 20.")]})
        suggestions = selectors.receiver_suggestions(h, limit=int(raw))
        return Response(ClientSuggestionsSerializer(suggestions, many=True).data)


# ---------------------------------------------------------------------------------------
# Checklist items


@extend_schema(
    tags=["materials"],
    summary="The checklist",
    responses={200: ChecklistItemSerializer(many=True), **_errors(403, 404)},
)
class ItemListView(HandoverScoped, generics.ListAPIView):
    serializer_class = ChecklistItemSerializer

    def get_queryset(self):
        return selectors.checklist_items(self.get_handover())


class _ItemAction(HandoverScoped):
    serializer_class = ChecklistItemSerializer

    def item(self) -> ChecklistItem:
        return self.child(selectors.checklist_items(self.get_handover()), self.kwargs["item_id"])

    def item_response(self, item: ChecklistItem) -> Response:
        item = selectors.checklist_items(self.get_handover()).get(pk=item.pk)
        return Response(ChecklistItemSerializer(item).data)


_ITEM_RESPONSES = {200: ChecklistItemSerializer, **_errors(400, 403, 404, 409)}


@extend_schema(
    tags=["materials"],
    summary="Hand an item over (departing salesperson)",
    request=HandOverSerializer,
    responses=_ITEM_RESPONSES,
)
class ItemHandOverView(_ItemAction):
    def post(self, request, pk: int, item_id: int):
        item = self.item()
        data = self.parse(HandOverSerializer)
        item = services.item_hand_over(
            item=item, user=request.user, note=data["note"], expected_version=data.get("version")
        )
        return self.item_response(item)


@extend_schema(
    tags=["materials"],
    summary="Confirm receipt of an item (its receiver)",
    request=VersionSerializer,
    responses=_ITEM_RESPONSES,
)
class ItemConfirmView(_ItemAction):
    def post(self, request, pk: int, item_id: int):
        item = self.item()
        data = self.parse(VersionSerializer)
        item = services.item_confirm(item=item, user=request.user, expected_version=data.get("version"))
        return self.item_response(item)


@extend_schema(
    tags=["materials"],
    summary="Dispute an item (its receiver), with the reason",
    request=DisputeSerializer,
    responses=_ITEM_RESPONSES,
)
class ItemDisputeView(_ItemAction):
    def post(self, request, pk: int, item_id: int):
        item = self.item()
        data = self.parse(DisputeSerializer)
        item = services.item_dispute(
            item=item, user=request.user, reason=data["reason"], expected_version=data.get("version")
        )
        return self.item_response(item)


@extend_schema(
    tags=["materials"],
    summary="Answer a dispute: hand the item over again with a reply (departing salesperson)",
    description="Only a disputed item can be answered; the reply is kept on the item for its receiver to read.",
    request=DisputeAnswerSerializer,
    responses=_ITEM_RESPONSES,
)
class ItemAnswerView(_ItemAction):
    def post(self, request, pk: int, item_id: int):
        item = self.item()
        data = self.parse(DisputeAnswerSerializer)
        item = services.item_answer_dispute(
            item=item, user=request.user, reply=data["reply"], expected_version=data.get("version")
        )
        return self.item_response(item)


_COUNT_RESPONSES = {200: CountSerializer, **_errors(400, 403, 404, 409)}


@extend_schema(
    tags=["materials"],
    summary="Hand over every item not yet handed over (departing salesperson)",
    request=VersionSerializer,
    responses=_COUNT_RESPONSES,
)
class ItemsHandOverAllView(HandoverScoped):
    serializer_class = CountSerializer

    def post(self, request, pk: int):
        data = self.parse(VersionSerializer)
        n = services.items_hand_over_all(
            handover=self.get_handover(), user=request.user, expected_version=data.get("version")
        )
        return Response({"count": n})


@extend_schema(
    tags=["materials"],
    summary="Confirm every item handed over to you",
    request=VersionSerializer,
    responses=_COUNT_RESPONSES,
)
class ItemsConfirmAllView(HandoverScoped):
    serializer_class = CountSerializer

    def post(self, request, pk: int):
        data = self.parse(VersionSerializer)
        n = services.items_confirm_all(
            handover=self.get_handover(), user=request.user, expected_version=data.get("version")
        )
        return Response({"count": n})


@extend_schema(
    tags=["materials"],
    summary="Confirm the selected items handed over to you, all or none",
    request=ItemsConfirmSerializer,
    responses=_COUNT_RESPONSES,
)
class ItemsConfirmView(HandoverScoped):
    serializer_class = CountSerializer

    # Its path would name it like the confirmation of one item (items/{item_id}/confirm/).
    @extend_schema(operation_id="handovers_items_confirm_selected")
    def post(self, request, pk: int):
        data = self.parse(ItemsConfirmSerializer)
        n = services.items_confirm(
            handover=self.get_handover(),
            user=request.user,
            item_ids=data["items"],
            expected_version=data.get("version"),
        )
        return Response({"count": n})


# ---------------------------------------------------------------------------------------
# Joint visits


@extend_schema_view(
    get=extend_schema(
        tags=["visits"], summary="The joint visits", responses={200: VisitSerializer(many=True), **_errors(403, 404)}
    ),
    post=extend_schema(
        tags=["visits"],
        summary="Record a joint visit (departing salesperson or the client's receiver)",
        description="Whoever records the visit confirms it; the other salesperson confirms it separately.",
        request=VisitCreateSerializer,
        responses={201: VisitSerializer, **_errors(400, 403, 404, 409)},
    ),
)
class VisitListView(HandoverScoped, generics.ListAPIView):
    serializer_class = VisitSerializer

    def get_queryset(self):
        return selectors.handover_visits(self.get_handover())

    def post(self, request, pk: int):
        data = self.parse(VisitCreateSerializer, handover=self.get_handover())
        visit = services.visit_record(
            handover_client=data["handover_client"],
            user=request.user,
            visited_on=data["visited_on"],
            mode=data["mode"],
            contact_met=data["contact_met"],
            outcome=data["outcome"],
            concerns=data["concerns"],
            expected_version=data.get("version"),
        )
        return Response(
            VisitSerializer(selectors.handover_visits(self.get_handover()).get(pk=visit.pk)).data, status=201
        )


@extend_schema(
    tags=["visits"],
    summary="Confirm a visit (the other salesperson of the visit)",
    request=VersionSerializer,
    responses={200: VisitSerializer, **_errors(400, 403, 404, 409)},
)
class VisitConfirmView(HandoverScoped):
    serializer_class = VisitSerializer

    def post(self, request, pk: int, visit_id: int):
        visits = selectors.handover_visits(self.get_handover())
        visit = self.child(visits, visit_id)
        data = self.parse(VersionSerializer)
        services.visit_confirm(visit=visit, user=request.user, expected_version=data.get("version"))
        return Response(VisitSerializer(visits.get(pk=visit.pk)).data)


@extend_schema(
    tags=["visits"],
    summary="Record the visits of several clients at once (the visits grid)",
    description="All rows are saved or none: a refused batch answers 400 (409 when every refused row is a "
    "conflict) with the messages by row in `rows`. An A client's visit must be in person; the date cannot be "
    "in the future.",
    request=VisitRowsSerializer,
    responses={200: VisitRowsResultSerializer, **_errors(400, 403, 404, 409)},
)
class VisitRowsView(HandoverScoped):
    serializer_class = VisitRowsResultSerializer

    def post(self, request, pk: int):
        data = self.parse(VisitRowsSerializer)
        rows = [
            services.VisitRow(
                r["handover_client"],
                visited_on=r["visited_on"],
                mode=r["mode"],
                contact_met=r["contact_met"],
                outcome=r["outcome"],
                concerns=r["concerns"],
                row_version=r["row_version"],
            )
            for r in data["rows"]
        ]
        saved = services.visits_save_rows(handover=self.get_handover(), user=request.user, rows=rows)
        visits = selectors.handover_visits(self.get_handover()).filter(pk__in=[v.pk for v in saved])
        return Response({"count": len(saved), "visits": VisitSerializer(visits, many=True).data})


@extend_schema_view(
    post=extend_schema(
        tags=["visits"],
        summary="Confirm the selected visits, or every visit waiting for you, at once",
        operation_id="handovers_visits_confirm_batch",
        request=VisitsConfirmSerializer,
        responses={200: CountSerializer, **_errors(400, 403, 404, 409)},
    )
)
class VisitsConfirmView(HandoverScoped):
    serializer_class = CountSerializer

    def post(self, request, pk: int):
        data = self.parse(VisitsConfirmSerializer)
        n = services.visits_confirm(
            handover=self.get_handover(),
            user=request.user,
            visit_ids=data["visits"],
            row_versions={r["handover_client"]: r["row_version"] for r in data["rows"]},
        )
        return Response({"count": n})


@extend_schema_view(
    get=extend_schema(
        tags=["visits"],
        summary="The visit record of your clients as a prefilled Excel sheet (receivers)",
        responses={(200, XLSX_CONTENT_TYPE): OpenApiTypes.BINARY, **_errors(403, 404)},
    ),
    post=extend_schema(
        tags=["visits"],
        summary="Upload the filled-in visit record: every row through the grid's rules, all or nothing",
        description='Errors come back by row and column in `errors` (keys "row.column"); nothing is saved.',
        request={"multipart/form-data": SheetUploadSerializer},
        responses={200: CountSerializer, **_errors(400, 403, 404, 409)},
    ),
)
class VisitSheetView(HandoverScoped):
    serializer_class = CountSerializer

    def get(self, request, pk: int):
        h = self.get_handover()
        data = services.visit_sheet_download(handover=h, user=request.user)
        response = HttpResponse(data, content_type=XLSX_CONTENT_TYPE)
        response["Content-Disposition"] = content_disposition_header(True, services.visit_sheet_filename(h))
        return response

    def post(self, request, pk: int):
        h = self.get_handover()
        if request.user.pk != h.departing_id and not h.clients.filter(receiver=request.user).exists():
            raise services.NotAllowed(_("Only the departing salesperson and this client's receiver record the visit."))
        upload = self.parse(SheetUploadSerializer)["file"]
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise services.InvalidInput(_("The file is too large to be a visit record."), field="file")
        saved = services.visit_sheet_upload(handover=h, user=request.user, data=upload.read(), filename=upload.name)
        return Response({"count": len(saved)})


# ---------------------------------------------------------------------------------------
# Phone spot-check


@extend_schema(
    tags=["spot-check"],
    summary="Record several spot-check calls at once (the witness's call list)",
    description="All rows are saved or none; a result other than confirmed needs a note. Refusals by row in `rows`.",
    request=PhoneCheckRowsSerializer,
    responses={200: PhoneCheckRowsResultSerializer, **_errors(400, 403, 404, 409)},
)
class PhoneCheckRowsView(HandoverScoped):
    serializer_class = PhoneCheckRowsResultSerializer

    def post(self, request, pk: int):
        data = self.parse(PhoneCheckRowsSerializer)
        rows = [
            services.CallRow(r["handover_client"], result=r["result"], note=r["note"], row_version=r["row_version"])
            for r in data["rows"]
        ]
        saved = services.calls_save_rows(handover=self.get_handover(), user=request.user, rows=rows)
        calls = selectors.handover_phone_checks(self.get_handover()).filter(pk__in=[c.pk for c in saved])
        return Response({"count": len(saved), "calls": PhoneCheckSerializer(calls, many=True).data})


@extend_schema_view(
    get=extend_schema(
        tags=["spot-check"],
        summary="The spot-check calls",
        responses={200: PhoneCheckSerializer(many=True), **_errors(403, 404)},
    ),
    post=extend_schema(
        tags=["spot-check"],
        summary="Record a spot-check call to a sampled client (witness)",
        request=PhoneCheckCreateSerializer,
        responses={201: PhoneCheckSerializer, **_errors(400, 403, 404, 409)},
    ),
)
class PhoneCheckListView(HandoverScoped, generics.ListAPIView):
    serializer_class = PhoneCheckSerializer

    def get_queryset(self):
        return selectors.handover_phone_checks(self.get_handover())

    def post(self, request, pk: int):
        data = self.parse(PhoneCheckCreateSerializer, handover=self.get_handover())
        check = services.phone_check_record(
            handover_client=data["handover_client"],
            user=request.user,
            result=data["result"],
            note=data["note"],
            expected_version=data.get("version"),
        )
        return Response(
            PhoneCheckSerializer(selectors.handover_phone_checks(self.get_handover()).get(pk=check.pk)).data, status=201
        )


# ---------------------------------------------------------------------------------------
# The report


@extend_schema_view(
    get=extend_schema(
        tags=["report"],
        summary="The handover report, with the figures computed now",
        responses={200: ReportSerializer, **_errors(403, 404)},
    ),
    put=extend_schema(
        tags=["report"],
        summary="Write the report (departing salesperson, at the report stage)",
        request=ReportUpdateSerializer,
        responses={200: ReportSerializer, **_errors(400, 403, 404, 409)},
    ),
)
class ReportView(HandoverScoped):
    serializer_class = ReportSerializer

    def report_response(self) -> Response:
        h = self.get_handover()
        report = selectors.handover_report(h)
        context = {"live_figures": selectors.report_figures(h)}
        return Response(ReportSerializer(report, context=context).data)

    def get(self, request, pk: int):
        return self.report_response()

    def put(self, request, pk: int):
        data = self.parse(ReportUpdateSerializer)
        services.report_update(
            handover=self.get_handover(),
            user=request.user,
            summary=data["summary"],
            open_risks=data["open_risks"],
            advice=data["advice"],
            expected_version=data.get("version"),
        )
        return self.report_response()


# ---------------------------------------------------------------------------------------
# Who may receive


@extend_schema(
    tags=["handovers"],
    summary="Who may receive clients in this handover",
    description="The choices for the default receiver and each client's receiver (the plan's receiver list): "
    "active salespeople, never the departing person, the supervisor, witness or manager of the handover, nor "
    "anyone leaving in an open handover of their own. Anyone else is refused when set as a receiver.",
    responses={200: ReceiverChoiceSerializer(many=True), **_errors(403, 404)},
)
class ReceiverChoiceListView(HandoverScoped, generics.ListAPIView):
    serializer_class = ReceiverChoiceSerializer

    def get_queryset(self):
        return selectors.receivers_for(self.get_handover())


# ---------------------------------------------------------------------------------------
# The timeline


@extend_schema(
    tags=["handovers"],
    summary="The timeline, oldest first",
    responses={200: EventSerializer(many=True), **_errors(403, 404)},
)
class EventListView(HandoverScoped, generics.ListAPIView):
    serializer_class = EventSerializer

    def get_queryset(self):
        return selectors.handover_events(self.get_handover())


# ---------------------------------------------------------------------------------------
# Signatures


def _signatures_response(h: Handover, queryset, *, many: bool, status_code: int = 200):
    checker = signing.SignatureChecker(h)
    rows = list(queryset)
    valid = {sig.pk: checker.is_valid(sig) for sig in rows}
    data = SignatureSerializer(rows if many else rows[0], many=many, context={"valid": valid}).data
    return Response(data, status=status_code)


@extend_schema_view(
    get=extend_schema(
        tags=["signatures"],
        summary="The signatures that count now, each with whether it still holds",
        responses={200: SignatureSerializer(many=True), **_errors(403, 404)},
    ),
    post=extend_schema(
        tags=["signatures"],
        summary="Sign: a receiver's receipt of the materials or record of the visits, or a party's checklist",
        description="Drawn (a PNG data URL) or typed (your full name), with your password. The signature pins the "
        "SHA-256 of the data it vouches for; if that data changes, the signature no longer holds and you sign "
        "again. Approvals are signed with the approval: POST transitions/approve_*/ with `signature`.",
        request=SignatureCreateSerializer,
        responses={201: SignatureSerializer, **_errors(400, 403, 404, 409)},
    ),
)
class SignatureListView(HandoverScoped):
    serializer_class = SignatureSerializer
    pagination_class = None

    def current(self):
        return selectors.current_signatures(self.get_handover())

    def get(self, request, pk: int):
        return _signatures_response(self.get_handover(), self.current(), many=True)

    def post(self, request, pk: int):
        data = self.parse(SignatureCreateSerializer)
        sig = services.handover_sign(
            handover=self.get_handover(),
            user=request.user,
            purpose=data["purpose"],
            signature=signature_input(request, data),
            expected_version=data.get("version"),
        )
        h = selectors.handover_fresh(self.get_handover())
        return _signatures_response(h, self.current().filter(pk=sig.pk), many=False, status_code=201)


# ---------------------------------------------------------------------------------------
# Follow-ups on a client, and the duties after completion


def _plain_fields(data, names) -> dict:
    """The body's fields for a page form: an object of plain values (a list or object in a field is refused)."""
    if not hasattr(data, "get"):
        raise exceptions.ValidationError({"non_field_errors": [_("Send a JSON object.")]})
    values = {}
    for name in names:
        value = data.get(name)
        if isinstance(value, dict | list):
            raise exceptions.ValidationError({name: [_("Send a single value.")]})
        if value is not None:
            values[name] = value
    return values


def _form_errors(form) -> exceptions.ValidationError:
    """The page form's refusals in the API's error shape: {field: [message, ...]}."""
    return exceptions.ValidationError({field: [str(m) for m in messages] for field, messages in form.errors.items()})


@extend_schema_view(
    get=extend_schema(
        tags=["follow-ups"],
        summary="A client's follow-up records, newest first (whoever sees the client)",
        responses={200: FollowUpSerializer(many=True), **_errors(404)},
    ),
    post=extend_schema(
        tags=["follow-ups"],
        summary="Record a follow-up on a client (its current owner)",
        description="The date may not be in the future; the contact must be one of this client's; content is "
        "required. The duties after a handover that it proves close in the same transaction: any kind closes "
        "the contact duty, only a visit the visit duty (`duties_closed` counts them).",
        request=FollowUpCreateSerializer,
        responses={201: FollowUpRecordedSerializer, **_errors(400, 403, 404)},
    ),
)
class ClientFollowUpsView(ApiMixin, generics.ListAPIView):
    serializer_class = FollowUpSerializer

    def get_client(self):
        if not hasattr(self, "_client"):
            try:
                self._client = clients_visible_to(self.request.user).get(pk=self.kwargs["client_id"])
            except Client.DoesNotExist:
                raise exceptions.NotFound() from None
            note(self.request, f"client {self._client.pk}")
        return self._client

    def get_queryset(self):
        return self.get_client().follow_ups.select_related("contact", "created_by")

    def finalize_response(self, request, response, *args, **kwargs):
        # Reading a client's follow-ups is reading the client: one access-log row, refusals too.
        if request.method == "GET":
            log_read(request, Action.VIEW_CLIENT, status=response.status_code)
        return super().finalize_response(request, response, *args, **kwargs)

    def post(self, request, client_id: int):
        client = self.get_client()
        if not may_record_follow_up(request.user, client):
            raise exceptions.PermissionDenied(_("Only the client's current owner records its follow-ups."))
        form = FollowUpForm(data=_plain_fields(request.data, FollowUpForm.Meta.fields), client=client)
        if not form.is_valid():
            raise _form_errors(form)
        try:
            recorded = follow_up_record(form=form, user=request.user)
        except NotAllowedToRecord as exc:
            raise exceptions.PermissionDenied(str(exc)) from None
        follow_up = self.get_queryset().get(pk=recorded.follow_up.pk)
        body = {"follow_up": FollowUpSerializer(follow_up).data, "duties_closed": recorded.closed}
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema(
    tags=["duties"],
    summary="The duties after completion you see (yours; a supervisor's team; HR all), filtered by done and late",
    description="Late: not done and past its due date. The same duties as the duty page.",
    parameters=[
        OpenApiParameter("done", OpenApiTypes.BOOL, description="true: only done; false: only open"),
        OpenApiParameter("late", OpenApiTypes.BOOL, description="true: only late; false: only not late"),
    ],
    responses={200: DutySerializer(many=True), **_errors(400, 404)},
)
class DutyListView(LoggedReads, ApiMixin, generics.ListAPIView):
    serializer_class = DutySerializer
    # The duties name their clients: read as a list of clients, the filters in the row's path.
    read_action = Action.LIST_CLIENTS

    def get_queryset(self):
        query = DutyFilterSerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        self.today = timezone.localdate()
        return selectors.duties_for_list(self.request.user, today=self.today, **query.validated_data)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "today": getattr(self, "today", None) or timezone.localdate()}


# The client notice (客户告知函)


@extend_schema(
    tags=["client notice"],
    summary="Each client's notice: its status, who sent it by which channel and when, the SMS text",
    description="Status: not_sent, sent, confirmed, objected, no_answer (the link expired unanswered), or "
    "outdated (the client's receiver changed after the notice named another: send it again). "
    "`reached` is false until the handover reaches the stage the company chose (by default: plan approved). "
    "The SMS / WeChat text, with the client's personal link, is given only to those who may send the notice.",
    responses={200: NoticesSerializer, **_errors(403, 404)},
)
class NoticeListView(HandoverScoped):
    serializer_class = NoticesSerializer

    def get(self, request, pk: int):
        return Response(NoticesSerializer(selectors.notices_tab(self.get_handover(), request.user)).data)


@extend_schema(
    tags=["client notice"],
    summary="Email or text the notice to the clients' contacts (the departing salesperson, the supervisor, "
    "a receiver for their own clients)",
    description="To every contact of the chosen clients (all you may send for when none is given) that has an "
    "email address (a phone number). The messages are written now and sent by a worker after this answer, "
    "each exactly once; a client's link starts its answer window at the first sending. Each contact is reached "
    "once per channel, and once more after the client's receiver changed (the notice was outdated): that "
    "sending names the new receiver, reopens the answer window and asks the client to answer again. 409 before "
    "the handover reaches the notices' stage, or when every chosen client was already reached this way.",
    request=NoticesSendSerializer,
    responses={202: NoticeQueuedSerializer, **_errors(400, 403, 404, 409)},
)
class NoticesSendView(HandoverScoped):
    serializer_class = NoticeQueuedSerializer

    def post(self, request, pk: int):
        data = self.parse(NoticesSendSerializer)
        deliveries = services.notices_send(
            handover=self.get_handover(),
            user=request.user,
            channel=data["channel"],
            handover_client_ids=data["handover_clients"],
            expected_version=data.get("version"),
        )
        body = {"queued": len(deliveries), "clients": len({d.notice_id for d in deliveries})}
        return Response(NoticeQueuedSerializer(body).data, status=status.HTTP_202_ACCEPTED)


@extend_schema(
    tags=["client notice"],
    summary="Record that a client's notice was given by WeChat, by phone or on paper",
    description="Once per channel; once more after the client's receiver changed (the notice was outdated), "
    "naming the new receiver. 409 when it was already recorded by this channel since.",
    request=NoticeMarkSerializer,
    responses={201: NoticeDeliverySerializer, **_errors(400, 403, 404, 409)},
)
class NoticeMarkView(HandoverScoped):
    serializer_class = NoticeDeliverySerializer

    def post(self, request, pk: int, hc_id: int):
        hc = self.child(selectors.handover_clients(self.get_handover()), hc_id)
        data = self.parse(NoticeMarkSerializer)
        d = services.notice_mark_sent(
            handover_client=hc,
            user=request.user,
            channel=data["channel"],
            note=data["note"],
            expected_version=data.get("version"),
        )
        body = {
            "channel": d.channel,
            "recipient": d.recipient,
            "by": request.user.display_name,
            "at": d.created_at,
            "sent_at": d.sent_at,
            "error": d.error,
            "note": d.note,
            "receiver": d.receiver.display_name if d.receiver_id else "",
        }
        return Response(NoticeDeliverySerializer(body).data, status=status.HTTP_201_CREATED)


def _letters(view, hc_ids: list[int], name: str) -> HttpResponse:
    h = view.get_handover()
    data = services.letters_pdf(handover=h, user=view.request.user, handover_client_ids=hc_ids)
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=f"{h.number}-{name}.pdf")
    return response


@extend_schema(
    tags=["client notice"],
    summary="One client's notice as a printable letter (PDF)",
    responses={(200, "application/pdf"): OpenApiTypes.BINARY, **_errors(403, 404, 409)},
)
class NoticeLetterView(HandoverScoped):
    def get(self, request, pk: int, hc_id: int):
        hc = self.child(selectors.handover_clients(self.get_handover()), hc_id)
        return _letters(self, [hc.pk], f"notice-{hc.pk}")


@extend_schema(
    tags=["client notice"],
    summary="Every notice you may send, one letter a page (PDF)",
    responses={(200, "application/pdf"): OpenApiTypes.BINARY, **_errors(403, 404, 409)},
)
class NoticeLettersView(HandoverScoped):
    def get(self, request, pk: int):
        return _letters(self, [], "notices")


def _anonymous_link(request, serializer_class, find, action: str, label: str = ""):
    """A client's answer through their personal link, with no login: rate-limited (by address and by
    token), the body checked, the link found by its token; every try logged. (validated data, link)."""
    token = str(request.data.get("token", ""))[:100]
    if answer_rate_limited(request, token):
        log_anonymous(request, action, detail="API rate limited", refused=True)
        raise exceptions.Throttled(wait=settings.CLIENT_ANSWER_RATE_WINDOW)
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    link = find(data["token"])
    if link is None:
        log_anonymous(request, action, detail="API unknown link", refused=True)
        raise exceptions.NotFound()
    log_anonymous(request, action, detail=f"API {link.handover_client.handover.number} {label}{link.pk}")
    return data, link


@contextlib.contextmanager
def _link_closed():
    """A link answered already or expired: 409, saying which."""
    try:
        yield
    except services.LinkClosed as closed:
        raise services.WrongState(
            _("This link was answered already.") if closed.reason == "answered" else _("This link has expired.")
        ) from closed


@extend_schema(
    tags=["client notice"],
    summary="The client's answer to their notice, with the token of their personal link (no login)",
    description="confirmed: they know their new contact; other_contact: they ask for a different one; concern: "
    "they state a concern (both need `text`). An objection notifies the supervisor and puts the client into "
    "the spot-check sample. 404 for an unknown token, 409 once answered or expired, 429 over the rate limit "
    "(by address and by token).",
    request=ClientAnswerSerializer,
    responses={200: ClientAnswerResultSerializer, 429: ErrorSerializer, **_errors(400, 404, 409)},
    auth=[],
)
class ClientAnswerView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, FormParser]

    def post(self, request):
        data, _notice = _anonymous_link(
            request, ClientAnswerSerializer, selectors.notice_for_token, Action.CLIENT_ANSWER
        )
        with _link_closed():
            notice = services.notice_answer(token=data["token"], answer=data["answer"], text=data["text"])
        return Response(ClientAnswerResultSerializer(notice).data)


# The joint visits as calendar events (.ics)

ICS_CONTENT_TYPE = "text/calendar"


def _ics(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type=f"{ICS_CONTENT_TYPE}; charset=utf-8")
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    return response


class PlannedVisitCalendarView(HandoverScoped):
    @extend_schema(
        tags=["visits"],
        summary="One client's planned joint visit as a calendar event (.ics)",
        operation_id="handovers_clients_planned_visit_calendar",
        description="An all-day iCalendar event (METHOD:PUBLISH) with the UID and SEQUENCE of the invitations "
        "emailed to both salespeople, so importing it and then receiving an update changes the same event. "
        "404 when no visit is planned for the client.",
        responses={(200, ICS_CONTENT_TYPE): OpenApiTypes.BINARY, **_errors(403, 404)},
    )
    def get(self, request, pk: int, hc_id: int):
        h = self.get_handover()
        hc = self.child(selectors.handover_clients(h), hc_id)
        data = services.planned_visit_ics(h, hc)
        if data is None:
            raise exceptions.NotFound(_("No visit is planned for this client."))
        return _ics(data, services.visits_ics_filename(h, f"client-{hc.pk}"))


class VisitCalendarView(HandoverScoped):
    @extend_schema(
        tags=["visits"],
        summary="One recorded joint visit as a calendar event (.ics)",
        operation_id="handovers_visit_calendar",
        responses={(200, ICS_CONTENT_TYPE): OpenApiTypes.BINARY, **_errors(403, 404)},
    )
    def get(self, request, pk: int, visit_id: int):
        h = self.get_handover()
        visit = self.child(
            selectors.handover_visits(h).select_related("handover_client__client", "handover_client__receiver"),
            visit_id,
        )
        return _ics(services.recorded_visit_ics(h, visit), services.visits_ics_filename(h, f"visit-{visit.pk}"))


class VisitsCalendarView(HandoverScoped):
    @extend_schema(
        tags=["visits"],
        summary="Every joint visit of the handover that is yours, planned and recorded, in one .ics",
        operation_id="handovers_visits_calendar",
        description="A receiver gets their own clients' visits; the departing salesperson and the other people "
        "of the handover get every client's.",
        responses={(200, ICS_CONTENT_TYPE): OpenApiTypes.BINARY, **_errors(403, 404)},
    )
    def get(self, request, pk: int):
        h = self.get_handover()
        return _ics(services.handover_visits_ics(h, request.user), services.visits_ics_filename(h))


# ---------------------------------------------------------------------------------------
# A client marked lost, or active again (issue 14)


@extend_schema(
    tags=["clients"],
    summary="Mark a client lost (with the reason) or active again (its owner or their supervisor)",
    description="status lost needs lost_reason from the list (competitor, price, service, relationship, closed, "
    "other), with an optional lost_note; status active makes a lost client active again and clears the reason. "
    "409 if the client is already lost, or not lost when made active.",
    request=ClientStatusChangeSerializer,
    responses={200: ClientStatusSerializer, **_errors(400, 403, 404, 409)},
)
class ClientStatusView(ApiMixin, APIView):
    def post(self, request, client_id: int):
        try:
            client = clients_visible_to(request.user).select_related("owner__department").get(pk=client_id)
        except Client.DoesNotExist:
            raise exceptions.NotFound() from None
        if not may_change_client_status(request.user, client):
            raise exceptions.PermissionDenied(
                _("Only the client's owner or their supervisor changes whether the client is lost.")
            )
        fields = _plain_fields(request.data, ["status", "lost_reason", "lost_note"])
        wanted = fields.get("status")
        try:
            if wanted == "lost":
                form = ClientLostForm(data=fields)
                if not form.is_valid():
                    raise _form_errors(form)
                client = client_mark_lost(
                    client=client,
                    user=request.user,
                    reason=form.cleaned_data["lost_reason"],
                    note=form.cleaned_data["lost_note"],
                )
            elif wanted == "active":
                client = client_reactivate(client=client, user=request.user)
            else:
                raise exceptions.ValidationError({"status": [_("Send status lost or active.")]})
        except StatusRefused as exc:
            if exc.status == 403:
                raise exceptions.PermissionDenied(exc.message) from None
            if exc.status == 409:
                return Response({"detail": exc.message, "code": "conflict"}, status=409)
            raise exceptions.ValidationError({"lost_reason": [exc.message]}) from None
        return Response(ClientStatusSerializer(client).data)


# ---------------------------------------------------------------------------------------
# After the handover: each client's outcome (issue 14)


@extend_schema(
    tags=["outcomes"],
    summary="What became of each client of a completed handover, computed from the book",
    description="Empty (completed false) before completion. The same figures as the handover's page "
    '"After the handover".',
    responses={200: HandoverOutcomesSerializer, **_errors(403, 404)},
)
class HandoverOutcomesView(HandoverScoped):
    def get(self, request, pk: int):
        h = self.get_handover()
        rows = selectors.outcomes_for_handover(h) if h.is_completed else []
        summary = selectors.outcome_summary(rows)
        body = {
            "completed": h.is_completed,
            "clients": summary.clients,
            "retained": summary.retained,
            "lost": summary.lost,
            "outcomes": rows,
        }
        return Response(HandoverOutcomesSerializer(body).data)


@extend_schema(
    tags=["outcomes"],
    summary="A client's outcome since each completed handover it was in (whoever sees the client)",
    responses={200: OutcomeSerializer(many=True), **_errors(404)},
)
class ClientOutcomesView(ApiMixin, APIView):
    # One row per completed handover the client was in: a short list, whole.
    pagination_class = None

    def get(self, request, client_id: int):
        client = clients_visible_to(request.user).filter(pk=client_id).first()
        if client is None:
            raise exceptions.NotFound()
        note(request, f"client {client.pk}")
        return Response(OutcomeSerializer(selectors.outcomes_for_client(client.pk), many=True).data)

    def finalize_response(self, request, response, *args, **kwargs):
        # Reading a client's outcome is reading the client: one access-log row, refusals too.
        if request.method == "GET":
            log_read(request, Action.VIEW_CLIENT, status=response.status_code)
        return super().finalize_response(request, response, *args, **kwargs)


def _evaluation_state(h: Handover, user) -> dict:
    panel = selectors.evaluation_panel(h, user)
    return {"evaluation": panel.evaluation, "may_evaluate": panel.may_evaluate, "due_on": panel.due_on}


@extend_schema_view(
    get=extend_schema(
        tags=["outcomes"],
        summary="The handover's evaluation (交接评估), if given, and whether you may give it",
        responses={200: EvaluationStateSerializer, **_errors(403, 404)},
    ),
    post=extend_schema(
        tags=["outcomes"],
        summary="Evaluate a completed handover (its supervisor, once)",
        description="Scores from 1 to 5 for the completeness of the materials, the clients' feedback and the "
        "receiver's adaptation, and a comment. Accepted from completion on (the duty is due 30 days after); "
        "409 before completion or once evaluated. Closes the supervisor's evaluation duty.",
        request=EvaluationCreateSerializer,
        responses={201: EvaluationStateSerializer, **_errors(400, 403, 404, 409)},
    ),
)
class HandoverEvaluationView(HandoverScoped):
    def get(self, request, pk: int):
        return Response(EvaluationStateSerializer(_evaluation_state(self.get_handover(), request.user)).data)

    def post(self, request, pk: int):
        h = self.get_handover()
        if not policy.may_evaluate(h, request.user):
            raise exceptions.PermissionDenied(_("Only the handover's supervisor evaluates it."))
        form = EvaluationForm(data=_plain_fields(request.data, list(EvaluationForm.base_fields)))
        if not form.is_valid():
            raise _form_errors(form)
        data = form.cleaned_data
        services.handover_evaluate(
            handover=h,
            user=request.user,
            materials=data["materials_score"],
            feedback=data["feedback_score"],
            adaptation=data["adaptation_score"],
            comment=data["comment"],
        )
        body = EvaluationStateSerializer(_evaluation_state(Handover.objects.get(pk=h.pk), request.user)).data
        return Response(body, status=status.HTTP_201_CREATED)


# The client's satisfaction survey


@extend_schema(
    tags=["client survey"],
    summary="Each client's satisfaction survey after completion: status, rating, continuing, comment",
    description="Status: not_sent, sent, answered, or expired (the link's window ended unanswered). The survey "
    "goes out `send_after_days` after completion; `completed` is false (and `rows` empty) before that.",
    responses={200: SurveysSerializer, **_errors(403, 404)},
)
class SurveyListView(HandoverScoped):
    serializer_class = SurveysSerializer

    def get(self, request, pk: int):
        return Response(SurveysSerializer(selectors.surveys_tab(self.get_handover(), request.user)).data)


@extend_schema(
    tags=["client survey"],
    summary="The client's answer to their satisfaction survey, with the token of their personal link (no login)",
    description="rating 1-5, will_continue yes / unsure / no, comment (required with a rating of 2 or less). "
    "A rating of 2 or less or a no notifies the receiver and the supervisor. 404 for an unknown token, 409 once "
    "answered or expired, 429 over the rate limit (by address and by token, shared with the notice's answer).",
    request=ClientSurveyAnswerSerializer,
    responses={200: ClientSurveyResultSerializer, 429: ErrorSerializer, **_errors(400, 404, 409)},
    auth=[],
)
class ClientSurveyAnswerView(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser, FormParser]

    def post(self, request):
        data, _survey = _anonymous_link(
            request, ClientSurveyAnswerSerializer, selectors.survey_for_token, Action.CLIENT_SURVEY, "survey "
        )
        with _link_closed():
            survey = services.survey_answer(
                token=data["token"],
                rating=data["rating"],
                will_continue=data["will_continue"],
                comment=data["comment"],
            )
        return Response(ClientSurveyResultSerializer(survey).data)


# The dashboard (issue 14, item 4)


@extend_schema(
    tags=["dashboard"],
    summary="The dashboard's figures: handovers by state and department, overdue stages, days per stage, receivables",
    description="Managers, HR and superusers see every department, a supervisor only their own (403 for anyone "
    "else). The same figures as the dashboard page. The period filters on the day a handover was started.",
    parameters=[DashboardFilterSerializer],
    responses={200: DashboardSerializer, **_errors(400, 403)},
)
class DashboardView(ApiMixin, APIView):
    def get(self, request):
        if not selectors.may_see_dashboard(request.user):
            raise exceptions.PermissionDenied(_("The dashboard is for managers, HR and supervisors."))
        query = DashboardFilterSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = dict(query.validated_data)
        if filters["department"] is not None:
            department = selectors.dashboard_departments(request.user).filter(pk=filters["department"]).first()
            if department is None:
                # Another department's figures are refused (403), as the dashboard is to who may not see it.
                raise exceptions.PermissionDenied(_("You may not see this department."))
            filters["department"] = department
        board = selectors.dashboard_figures(request.user, **filters)
        after = selectors.after_handover_figures(request.user, **filters)
        return Response(DashboardSerializer({**board.as_data(), "after_handover": after.as_data()}).data)


# ---------------------------------------------------------------------------------------
# Departures from the HR system


@extend_schema_view(
    get=extend_schema(
        tags=["hr"],
        summary="The departures the HR system registered, newest first (HR only)",
        responses={200: HrDepartureSerializer(many=True), **_errors(403)},
    ),
    post=extend_schema(
        tags=["hr"],
        summary="Register a departure: its handover starts with the company's defaults (HR only)",
        description=(
            "With the token of a person holding the HR role (the HR system's account). The handover "
            "starts with the departing person's direct supervisor, and the witness and manager in charge "
            "set for their department in the administration; the receivers are those named by employee "
            "number, else the department's default receiver. Every check of starting a handover applies. "
            "Idempotent by `external_id`: the same departure sent again answers 200 with the handover it "
            "started; the same `external_id` with other content is refused with 409."
        ),
        request=HrDepartureInputSerializer,
        responses={
            201: HrDepartureSerializer,
            200: OpenApiResponse(HrDepartureSerializer, description="Registered before: the same handover."),
            **_errors(400, 403, 409),
        },
    ),
)
class HrDepartureListView(ApiMixin, generics.ListAPIView):
    serializer_class = HrDepartureSerializer

    def get_queryset(self):
        if not policy.may_register_departures(self.request.user):
            raise exceptions.PermissionDenied(_("Only HR may register departures."))
        return selectors.hr_departures_for(self.request.user)

    def post(self, request):
        data = HrDepartureInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        departure, created = services.hr_departure_register(by=request.user, **data.validated_data)
        return Response(
            HrDepartureSerializer(departure).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


@extend_schema(
    tags=["hr"],
    summary="One departure the HR system registered, by the HR system's id (HR only)",
    responses={200: HrDepartureSerializer, **_errors(403, 404)},
)
class HrDepartureDetailView(ApiMixin, APIView):
    def get(self, request, external_id: str):
        if not policy.may_register_departures(request.user):
            raise exceptions.PermissionDenied(_("Only HR may register departures."))
        departure = selectors.hr_departures_for(request.user).filter(external_id=external_id).first()
        if departure is None:
            raise exceptions.NotFound()
        return Response(HrDepartureSerializer(departure).data)
