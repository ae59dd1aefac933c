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

from . import policy
from .models import (
    OPEN_STATES,
    CallResult,
    ChecklistItem,
    Event,
    Handover,
    HandoverClient,
    PhoneCheck,
    Reason,
    Report,
    SignatureMethod,
    State,
    Visit,
    VisitMode,
)
from .selectors import eligible_receivers

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


def _people(role: str):
    return (
        User.objects.filter(is_active=True, groups__name=role)
        .select_related("department")
        .order_by("department__code", "full_name", "username")
        .distinct()
    )


class HandoverStartForm(forms.Form):
    departing = PersonChoiceField(
        label=_("departing salesperson"), queryset=User.objects.none(), widget=forms.Select(SELECT)
    )
    receiver = PersonChoiceField(label=_("default receiver"), queryset=User.objects.none(), widget=forms.Select(SELECT))
    witness = PersonChoiceField(label=_("witness"), queryset=User.objects.none(), widget=forms.Select(SELECT))
    manager = PersonChoiceField(label=_("manager in charge"), queryset=User.objects.none(), widget=forms.Select(SELECT))
    reason = forms.ChoiceField(label=_("reason"), choices=Reason.choices, widget=forms.Select(SELECT))
    notice_date = forms.DateField(label=_("notice date"), widget=forms.DateInput(DATE, format="%Y-%m-%d"))
    last_working_day = forms.DateField(label=_("last working day"), widget=forms.DateInput(DATE, format="%Y-%m-%d"))

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.initial.setdefault("notice_date", today)
        self.initial.setdefault("last_working_day", today + datetime.timedelta(days=30))
        leaving = Handover.objects.filter(state__in=OPEN_STATES).values("departing")
        departing = _people(Role.SALES).exclude(pk__in=leaving)
        if not policy.may_start_for_anyone(user):
            # A supervisor starts handovers of their own people only.
            departing = departing.filter(policy.own_people(user))
        self.fields["departing"].queryset = departing
        self.fields["receiver"].queryset = eligible_receivers()
        self.fields["witness"].queryset = _people(Role.WITNESS)
        self.fields["manager"].queryset = _people(Role.MANAGER)


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


class DisputeForm(VersionForm):
    reason = model_text(ChecklistItem, "dispute_reason", label=_("reason for the dispute"))


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
