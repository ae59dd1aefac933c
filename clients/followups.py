"""Recording a follow-up (跟进记录) on a client: who may, what is checked, what it closes.

The page (clients.views.follow_up_add) and the API (handover.api.ClientFollowUpsView) both go
through FollowUpForm and follow_up_record, so they refuse the same things with the same words.
Saving tells the other apps (clients.hooks.follow_up_recorded) in the same transaction: the
handover app closes the duties after a handover that this follow-up proves.
"""

from dataclasses import dataclass

from django import forms
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .hooks import follow_up_recorded
from .models import Client, FollowUp

TEXT = {"class": "form-control"}
AREA = {"class": "form-control", "rows": 3}


def may_record_follow_up(user, client: Client) -> bool:
    """Only the client's current owner records its follow-ups: the person in contact with it.

    Not a supervisor or HR, who see the client but do not talk to it for its owner; not the
    departed salesperson, whose clients have moved to their receivers; not an inactive account.
    """
    return bool(getattr(user, "is_authenticated", False) and user.is_active and client.owner_id == user.pk)


class FollowUpForm(forms.ModelForm):
    class Meta:
        model = FollowUp
        fields = ["date", "kind", "contact", "content", "objections", "commitments", "next_plan"]
        widgets = {
            "date": forms.DateInput({"class": "form-control", "type": "date"}, format="%Y-%m-%d"),
            "kind": forms.Select({"class": "form-select"}),
            "contact": forms.Select({"class": "form-select"}),
            "content": forms.Textarea(AREA),
            "objections": forms.Textarea(AREA),
            "commitments": forms.Textarea(AREA),
            "next_plan": forms.Textarea(AREA),
        }
        error_messages = {
            "content": {"required": _("Write what was said or done with the client.")},
            "date": {"required": _("Give the date of the contact or visit.")},
            "kind": {"required": _("Choose how the client was contacted.")},
        }

    def __init__(self, *args, client: Client, **kwargs):
        super().__init__(*args, **kwargs)
        self.client = client
        self.instance.client = client
        contact = self.fields["contact"]
        # Only this client's contacts are choices; another client's is refused, not saved.
        contact.queryset = client.contacts.order_by("pk")
        contact.error_messages["invalid_choice"] = _("This contact is not one of this client's contacts.")
        contact.empty_label = _("(no particular contact)")
        if not self.is_bound and "date" not in self.initial:
            self.initial["date"] = timezone.localdate()

    def clean_date(self):
        date = self.cleaned_data["date"]
        if date > timezone.localdate():
            raise forms.ValidationError(_("The date cannot be in the future."), code="future")
        return date


@dataclass(frozen=True)
class Recorded:
    follow_up: FollowUp
    # What the other apps closed with it (the handover duties it proves).
    closed: int


class NotAllowedToRecord(Exception):
    pass


def follow_up_record(*, form: FollowUpForm, user) -> Recorded:
    """Save a valid form's follow-up by this person; refused unless they may record on the client now."""
    with transaction.atomic():
        # The client row locked: an owner change at the same moment waits, then is seen.
        client = Client.objects.select_for_update().get(pk=form.client.pk)
        if not may_record_follow_up(user, client):
            raise NotAllowedToRecord(_("Only the client's current owner records its follow-ups."))
        follow_up = form.save(commit=False)
        follow_up.client = client
        follow_up.created_by = user
        follow_up.created_at = timezone.now()
        follow_up.save()
        closed = follow_up_recorded(follow_up)
    return Recorded(follow_up, closed)
