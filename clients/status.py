"""Marking a client lost (with its reason) and active again: who may, what is checked.

The page (clients.views.client_mark_lost / client_reactivate) and the API
(handover.api.ClientStatusView) both go through ClientLostForm and these services, so they refuse
the same things with the same words. The reason is also required by Client.clean (the admin,
the import).
"""

from django import forms
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.roles import Role

from .models import Client, ClientStatus, LostReason


def may_change_client_status(user, client: Client) -> bool:
    """The client's owner, or a supervisor over the owner: their direct supervisor, a supervisor of the
    owner's department, or its head. Not HR, a manager or an administrator, who see every client but
    do not keep it; not an inactive account."""
    if not (getattr(user, "is_authenticated", False) and user.is_active):
        return False
    if client.owner_id == user.pk:
        return True
    if not user.has_role(Role.SUPERVISOR):
        return False
    owner = client.owner
    department = owner.department
    return bool(
        owner.supervisor_id == user.pk
        or (department is not None and department.head_id == user.pk)
        or (owner.department_id is not None and owner.department_id == user.department_id)
    )


class ClientLostForm(forms.Form):
    lost_reason = forms.ChoiceField(
        label=_("reason lost"),
        choices=[("", "---------"), *LostReason.choices],
        error_messages={"required": _("Choose why the client was lost.")},
        widget=forms.Select({"class": "form-select"}),
    )
    lost_note = forms.CharField(
        label=_("note on the loss"),
        required=False,
        max_length=Client._meta.get_field("lost_note").max_length,
        widget=forms.Textarea({"class": "form-control", "rows": 2}),
    )

    def clean_lost_reason(self):
        value = self.cleaned_data["lost_reason"]
        if value not in LostReason.values:
            raise forms.ValidationError(_("Choose why the client was lost."), code="invalid_choice")
        return value


class StatusRefused(Exception):
    """Not this person's to change, or the client is not in a state for it."""

    def __init__(self, message, *, status: int = 403):
        super().__init__(str(message))
        self.message = str(message)
        self.status = status


def _locked(client: Client) -> Client:
    # Only the client's row is locked (its owner's department may be missing: an outer join).
    return Client.objects.select_for_update(of=("self",)).select_related("owner__department").get(pk=client.pk)


def client_mark_lost(*, client: Client, user, reason: str, note: str = "") -> Client:
    """Mark the client lost, with the reason from the list (and a note); refused without a reason."""
    if reason not in LostReason.values:
        raise StatusRefused(_("Choose why the client was lost."), status=400)
    with transaction.atomic():
        locked = _locked(client)
        if not may_change_client_status(user, locked):
            raise StatusRefused(_("Only the client's owner or their supervisor marks the client lost."))
        if locked.status == ClientStatus.LOST:
            raise StatusRefused(_("This client is already marked lost."), status=409)
        locked.status = ClientStatus.LOST
        locked.lost_reason = reason
        locked.lost_note = (note or "").strip()
        locked.lost_at = timezone.now()
        locked.clean()
        locked.save()
    return locked


def client_reactivate(*, client: Client, user) -> Client:
    """A lost client won back: active again, its reason cleared."""
    with transaction.atomic():
        locked = _locked(client)
        if not may_change_client_status(user, locked):
            raise StatusRefused(_("Only the client's owner or their supervisor makes a lost client active again."))
        if locked.status != ClientStatus.LOST:
            raise StatusRefused(_("Only a lost client is made active again."), status=409)
        locked.status = ClientStatus.ACTIVE
        locked.save()  # save() clears the reason, the note and the date
    return locked
