"""Forms of the handover pages.

The action forms only parse what a page posted; whether the person may do it, and whether
the values make sense for the handover, is decided by the services, whose messages the
pages show. Every action form carries the handover's version, so a form posted from a
page that is out of date (or posted twice by a double click) is refused instead of acting twice.
"""

import datetime

from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Department, User
from accounts.roles import Role
from clients.filters import FlagCheckbox
from clients.importer import human_size
from clients.models import Grade

from .models import (
    SURVEY_LOW_RATING,
    CallResult,
    ChecklistItem,
    ClientNotice,
    ClientSurvey,
    Event,
    Handover,
    HandoverClient,
    HandoverEvaluation,
    NoticeAnswer,
    NoticeChannel,
    NoticeDelivery,
    PhoneCheck,
    Reason,
    Report,
    SignatureMethod,
    State,
    SurveyContinue,
    Visit,
    VisitMode,
)
from .selectors import departing_choices, eligible_receivers, people_with_role

TEXT = {"class": "form-control"}
SELECT = {"class": "form-select"}
DATE = {"class": "form-control", "type": "date"}


def model_text(model: type[models.Model], name: str, *, label, required: bool = False) -> forms.CharField:
    """A text input with the model field's limit and checks: the page refuses what the model refuses."""
    field = model._meta.get_field(name)
    checks = [v for v in field.validators if not isinstance(v, MaxLengthValidator)]
    return forms.CharField(label=label, required=required, max_length=field.max_length, validators=checks)


class PersonChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        if obj.department_id:
            return f"{obj.display_name}（{obj.department.name}）"
        return obj.display_name


class HandoverStartForm(forms.Form):
    departing = PersonChoiceField(
        label=_("departing salesperson"), queryset=User.objects.none(), widget=forms.Select(SELECT)
    )
    receiver = PersonChoiceField(label=_("default receiver"), queryset=User.objects.none(), widget=forms.Select(SELECT))
    receivers = forms.ModelMultipleChoiceField(
        label=_("other receivers"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.SelectMultiple({"class": "form-select", "size": 6}),
        help_text=_(
            "Optional. The clients are split automatically among the default receiver and these, balanced by "
            "number of clients, A clients and outstanding receivables; the plan stage can change any of them."
        ),
    )
    witness = PersonChoiceField(label=_("witness"), queryset=User.objects.none(), widget=forms.Select(SELECT))
    manager = PersonChoiceField(label=_("manager in charge"), queryset=User.objects.none(), widget=forms.Select(SELECT))
    reason = forms.ChoiceField(label=_("reason"), choices=Reason.choices, widget=forms.Select(SELECT))
    notice_date = forms.DateField(label=_("notice date"), widget=forms.DateInput(DATE, format="%Y-%m-%d"))
    last_working_day = forms.DateField(label=_("last working day"), widget=forms.DateInput(DATE, format="%Y-%m-%d"))
    returns_on = forms.DateField(
        label=_("return date"),
        required=False,
        widget=forms.DateInput(DATE, format="%Y-%m-%d"),
        help_text=_(
            "Only for a long leave, a maternity leave or a temporary transfer (a cover): the day the person comes "
            "back, when their clients return to them. Leave it empty for a resignation or a transfer."
        ),
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.initial.setdefault("notice_date", today)
        self.initial.setdefault("last_working_day", today + datetime.timedelta(days=30))
        # The same rule as the API's people directory (selectors/people.py).
        self.fields["departing"].queryset = departing_choices(user)
        self.fields["witness"].queryset = people_with_role(Role.WITNESS)
        self.fields["manager"].queryset = people_with_role(Role.MANAGER)
        # The receiver list never offers the departing person nor a party of the handover, as
        # far as they are chosen (static/js/handover_start.js hides them while choosing).
        chosen_departing = self._chosen("departing")
        supervisor = (
            User.objects.filter(pk=chosen_departing).values_list("supervisor_id", flat=True).first()
            if chosen_departing
            else None
        )
        self.fields["receiver"].queryset = eligible_receivers(
            departing=chosen_departing, parties=[supervisor, self._chosen("witness"), self._chosen("manager")]
        )
        self.fields["receivers"].queryset = self.fields["receiver"].queryset
        self.fields["receiver"].error_messages["invalid_choice"] = _(
            "This person cannot receive the clients: the departing salesperson, the supervisor, witness and "
            "manager of the handover, someone who has left and someone who is leaving cannot."
        )
        self.fields["receivers"].error_messages["invalid_choice"] = self.fields["receiver"].error_messages[
            "invalid_choice"
        ]
        if not self.is_bound:
            # One witness or one manager in the company: chosen already.
            for name in ("witness", "manager"):
                candidates = list(self.fields[name].queryset[:2])
                if len(candidates) == 1:
                    self.initial.setdefault(name, candidates[0].pk)

    def _chosen(self, name: str) -> int | None:
        value = self.data.get(name) if self.is_bound else self.initial.get(name)
        if isinstance(value, User):
            return value.pk
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None


class CoverReturnDateForm(forms.Form):
    """HR moves a cover's return date (services.cover_set_return_date checks it)."""

    returns_on = forms.DateField(label=_("return date"), widget=forms.DateInput(DATE, format="%Y-%m-%d"))


class HandoverFilterForm(forms.Form):
    state = forms.ChoiceField(
        label=_("state"),
        required=False,
        choices=[("", _("All states")), *State.choices],
        widget=forms.Select({"class": "form-select form-select-sm"}),
    )
    department = forms.ModelChoiceField(
        label=_("department"),
        required=False,
        queryset=Department.objects.all(),
        empty_label=_("All departments"),
        widget=forms.Select({"class": "form-select form-select-sm"}),
    )
    overdue = forms.BooleanField(
        label=_("Overdue only"), required=False, widget=FlagCheckbox({"class": "form-check-input"})
    )

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {
            "state": self.cleaned_data["state"],
            "department": self.cleaned_data["department"],
            "overdue": self.cleaned_data["overdue"],
        }


# ---------------------------------------------------------------------------------------
# Actions on the handover page


class VersionForm(forms.Form):
    version = forms.IntegerField(
        widget=forms.HiddenInput,
        error_messages={
            "required": _("This page is out of date. Please reload it and try again."),
            "invalid": _("This page is out of date. Please reload it and try again."),
        },
    )


class TransitionForm(VersionForm):
    comment = model_text(Handover, "last_return_reason", label=_("reason"))


class PlanForm(VersionForm):
    current_status = model_text(HandoverClient, "current_status", label=_("current status"))
    risks = model_text(HandoverClient, "risks", label=_("risks"))
    next_steps = model_text(HandoverClient, "next_steps", label=_("next steps"))
    planned_visit_on = forms.DateField(label=_("planned visit date"), required=False)


class ReceiverForm(VersionForm):
    handover_client = forms.ModelChoiceField(label=_("client"), queryset=HandoverClient.objects.none())
    receiver = forms.ModelChoiceField(label=_("receiver"), queryset=User.objects.filter(is_active=True))

    def __init__(self, *args, handover: Handover, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["handover_client"].queryset = HandoverClient.objects.filter(handover=handover)


class ReceiversBulkForm(forms.Form):
    """Receivers in bulk: the clients (ticked rows `hc`, each with its row version `v-<id>`, or a
    filter) and the receivers. Only parsed here; the services decide who may and who may receive."""

    receivers = forms.ModelMultipleChoiceField(label=_("receivers"), queryset=User.objects.all(), required=False)
    grade = forms.ChoiceField(label=_("grade"), choices=[("", _("All grades")), *Grade.choices], required=False)
    industry = forms.CharField(label=_("industry"), required=False, max_length=50)
    region = forms.CharField(label=_("region"), required=False, max_length=50)
    # The split's mode: even (the default) or by fit (按匹配度分配); the service refuses any other.
    mode = forms.CharField(required=False, max_length=10)

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.hc_ids: list[int] = []
        self.row_versions: dict[int, int] = {}
        if data is not None:
            for value in data.getlist("hc"):
                if str(value).isdigit():
                    self.hc_ids.append(int(value))
            for pk in self.hc_ids:
                version = str(data.get(f"v-{pk}", ""))
                if version.isdigit():
                    self.row_versions[pk] = int(version)

    def clean(self):
        data = super().clean()
        if self.data is not None and len(self.hc_ids) != len(self.data.getlist("hc")):
            raise forms.ValidationError(_("The ticked clients could not be read. Please reload the page."))
        return data

    def pick(self):
        """The services' RowPick: the ticked rows, or (none ticked) the clients matching the filter."""
        from .services import RowPick

        if self.hc_ids:
            return RowPick(ids=self.hc_ids, row_versions=self.row_versions)
        data = self.cleaned_data
        return RowPick(grade=data["grade"], industry=data["industry"].strip(), region=data["region"].strip())

    def values(self) -> dict:
        """The filter as typed, to show again."""
        return {name: self.data.get(name, "") for name in ("grade", "industry", "region")} if self.data else {}

    def chosen(self) -> set[int]:
        return {int(v) for v in (self.data.getlist("receivers") if self.data else []) if str(v).isdigit()}


class SplitApplyForm(forms.Form):
    """A previewed split posted back: `assign` as "client:receiver:row version" per client, and the digest."""

    digest = forms.CharField(max_length=128)

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.assignment: dict[int, int] = {}
        self.row_versions: dict[int, int] = {}
        self.unreadable = False
        for value in data.getlist("assign") if data is not None else []:
            parts = str(value).split(":")
            if len(parts) != 3 or not all(p.isdigit() for p in parts):
                self.unreadable = True
                continue
            hc, receiver, version = (int(p) for p in parts)
            self.assignment[hc] = receiver
            self.row_versions[hc] = version

    def clean(self):
        data = super().clean()
        if self.unreadable or not self.assignment:
            raise forms.ValidationError(_("This is not the split that was previewed. Please preview it again."))
        return data


class DisputeForm(VersionForm):
    reason = model_text(ChecklistItem, "dispute_reason", label=_("reason for the dispute"))


class DisputeAnswerForm(forms.Form):
    """The departing person's reply to a disputed item, from their to-do or the handover page.

    No handover version: only the departing person changes a disputed item, and the service
    checks that it is still disputed, so a receiver's work elsewhere never makes the reply stale.
    """

    reply = model_text(ChecklistItem, "dispute_reply", label=_("reply to the dispute"))
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # Where the form was: the page shown again on an error, with the reply kept.
    next = forms.ChoiceField(choices=[("inbox", "inbox"), ("detail", "detail")], required=False)


class ItemsConfirmForm(VersionForm):
    """The receiver's selected items, confirmed together."""

    items = forms.TypedMultipleChoiceField(
        label=_("items"), coerce=int, choices=(), required=False, error_messages={"invalid_choice": _("Unknown item.")}
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any id: the service says which ones are not the person's or not waiting.
        self.fields["items"].valid_value = lambda value: str(value).isdigit()


class ClientDropForm(VersionForm):
    # Blank is let through so the service gives its own message.
    reason = model_text(Event, "comment", label=_("reason for removing the client"))


class VisitForm(VersionForm):
    visited_on = forms.DateField(label=_("visit date"))
    mode = forms.ChoiceField(label=_("mode"), choices=VisitMode.choices)
    contact_met = model_text(Visit, "contact_met", label=_("client contact met"))
    outcome = model_text(Visit, "outcome", label=_("outcome"))
    concerns = model_text(Visit, "concerns", label=_("client's concerns"))


class PhoneCheckForm(VersionForm):
    result = forms.ChoiceField(label=_("result"), choices=CallResult.choices)
    note = model_text(PhoneCheck, "note", label=_("note"))


class ReportForm(VersionForm):
    summary = model_text(Report, "summary", label=_("summary"))
    open_risks = model_text(Report, "open_risks", label=_("open risks"))
    advice = model_text(Report, "advice", label=_("advice to the receiver"))


class SignForm(VersionForm):
    """A signature: drawn on the pad (a PNG data URL) or typed, and the password again.

    Only parsed here; services.handover_sign checks the password, the name and the image."""

    method = forms.ChoiceField(label=_("how to sign"), choices=SignatureMethod.choices)
    typed_name = forms.CharField(label=_("your full name"), required=False, max_length=100)
    # A data URL: its size is checked again after decoding (signing.MAX_IMAGE_BYTES).
    image = forms.CharField(label=_("signature"), required=False, max_length=300_000, strip=False)
    password = forms.CharField(label=_("password"), required=False, max_length=200, strip=False)


class SignedTransitionForm(SignForm):
    """An approval: the approver's signature and an optional comment, in one action."""

    comment = model_text(Handover, "last_return_reason", label=_("comment"))


class VerifyForm(forms.Form):
    code = forms.CharField(label=_("verification code"), required=False, max_length=40)
    file = forms.FileField(label=_("PDF file"), required=False)


def first_error(form: forms.Form) -> str:
    """One line naming the fields at fault, for a message above the page."""
    parts = []
    for name, errors in form.errors.items():
        label = form.fields[name].label if name in form.fields and name != "version" else ""
        text = " ".join(str(e) for e in errors)
        parts.append(_("%(label)s: %(value)s") % {"label": label, "value": text} if label else text)
    return "；".join(parts)


class PlanSheetForm(forms.Form):
    """The plan's sheet, uploaded back; read by the client-book import's engine (its limits too)."""

    file = forms.FileField(
        label=_("The filled-in plan (.xlsx)"),
        error_messages={"required": _("Choose the plan's .xlsx file to upload.")},
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        # Refused before reading: the whole file is held in memory.
        if upload.size > settings.IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _("The file is %(size)s; files larger than %(limit)s are refused. Split it into smaller files."),
                code="too_large",
                params={"size": human_size(upload.size), "limit": human_size(settings.IMPORT_MAX_BYTES)},
            )
        return upload


# ---------------------------------------------------------------------------------------
# The client notice


class IdListField(forms.Field):
    """Several ids from checkboxes of the same name (none: all)."""

    widget = forms.CheckboxSelectMultiple

    def to_python(self, value):
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        try:
            return sorted({int(v) for v in values})
        except (TypeError, ValueError):
            raise forms.ValidationError(_("Choose clients from the list."), code="invalid") from None


class NoticeSendForm(VersionForm):
    """Email or text the notice to the chosen clients (none chosen: every client this person may send for)."""

    handover_client_ids = IdListField(label=_("clients"), required=False)

    def __init__(self, data=None, **kwargs):
        if data is not None and hasattr(data, "getlist"):
            data = {"version": data.get("version"), "handover_client_ids": data.getlist("clients")}
        super().__init__(data, **kwargs)


class NoticeMarkForm(VersionForm):
    channel = forms.ChoiceField(
        label=_("channel"),
        choices=[(c.value, c.label) for c in (NoticeChannel.WECHAT, NoticeChannel.PHONE, NoticeChannel.PAPER)],
    )
    note = model_text(NoticeDelivery, "note", label=_("note"))


class ClientAnswerForm(forms.Form):
    """The client's answer on their link's page."""

    answer = forms.ChoiceField(
        label=_("Your answer"),
        choices=[
            (NoticeAnswer.CONFIRMED.value, _("I know my new contact")),
            (NoticeAnswer.OTHER_CONTACT.value, _("I would like a different contact")),
            (NoticeAnswer.CONCERN.value, _("I have a concern")),
        ],
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
    )
    text = model_text(ClientNotice, "answer_text", label=_("What you would like us to know"))

    def clean(self):
        data = super().clean()
        if data.get("answer") and data["answer"] != NoticeAnswer.CONFIRMED and not (data.get("text") or "").strip():
            self.add_error("text", _("Please tell us in a few words what you would like."))
        return data


# The handover's evaluation (交接评估, issue 14); services.handover_evaluate checks it again


def _score_field(label) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=label,
        choices=[(n, str(n)) for n in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Give a score from 1 to 5."),
            "invalid_choice": _("Give a score from 1 to 5."),
        },
    )


class EvaluationForm(forms.Form):
    materials_score = _score_field(_("completeness of the materials"))
    feedback_score = _score_field(_("the clients' feedback"))
    adaptation_score = _score_field(_("the receiver's adaptation"))
    comment = forms.CharField(
        label=_("comment"),
        max_length=HandoverEvaluation._meta.get_field("comment").max_length,
        widget=forms.Textarea({"class": "form-control", "rows": 3}),
        error_messages={"required": _("Write a comment on the handover.")},
    )


# ---------------------------------------------------------------------------------------
# The client's satisfaction survey


class ClientSurveyForm(forms.Form):
    """The client's answer on their survey link's page (the service checks it all again)."""

    rating = forms.TypedChoiceField(
        label=_("How well was the handover of your account done?"),
        choices=[(str(n), str(n)) for n in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={
            "required": _("Choose a rating from 1 to 5."),
            "invalid_choice": _("Choose a rating from 1 to 5."),
        },
    )
    will_continue = forms.ChoiceField(
        label=_("Will you continue working with us?"),
        choices=SurveyContinue.choices,
        widget=forms.RadioSelect(attrs={"class": "form-check-input"}),
        error_messages={
            "required": _("Tell us whether you will continue working with us."),
            "invalid_choice": _("Tell us whether you will continue working with us."),
        },
    )
    comment = model_text(ClientSurvey, "comment", label=_("Anything you would like to tell us"))

    def clean(self):
        data = super().clean()
        rating = data.get("rating")
        if rating is not None and rating <= SURVEY_LOW_RATING and not (data.get("comment") or "").strip():
            self.add_error("comment", _("Please tell us in a few words what went wrong."))
        return data


# ---------------------------------------------------------------------------------------
# The dashboard's filters (issue 14, item 4): a period and a department within the person's scope


class DashboardFilterForm(forms.Form):
    date_from = forms.DateField(
        label=_("period from"),
        required=False,
        # ISO as the rest of the site: a date input takes only yyyy-mm-dd as its value, and the
        # Chinese locale's first input format (yyyy/mm/dd) would leave it blank after filtering.
        widget=forms.DateInput({"type": "date", "class": "form-control form-control-sm"}, format="%Y-%m-%d"),
    )
    date_to = forms.DateField(
        label=_("period to"),
        required=False,
        widget=forms.DateInput({"type": "date", "class": "form-control form-control-sm"}, format="%Y-%m-%d"),
    )
    department = forms.ModelChoiceField(
        label=_("department"),
        required=False,
        queryset=Department.objects.none(),
        empty_label=_("All departments"),
        widget=forms.Select({"class": "form-select form-select-sm"}),
    )

    def __init__(self, *args, departments=None, **kwargs):
        super().__init__(*args, **kwargs)
        if departments is not None:
            self.fields["department"].queryset = departments

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end of the period cannot be before its start."))
        return data

    def filters(self) -> dict:
        """The valid filters; a field with an error is left out (the error shows beside it)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {name: data.get(name) for name in ("date_from", "date_to", "department") if name not in self.errors}
