"""API tokens die with the password they were given for, and with the account.

Any save of a person that changes the stored password hash (a new password from the admin,
`manage.py changepassword`, set_password, set_unusable_password) or deactivates the account
deletes all their API tokens after the save. Django's sessions end the same way (their hash
is derived from the password hash), so a hasher upgrade at login ends both alike. A bulk
queryset update sends no signal: handover_revoke_access deletes the tokens itself.
"""

from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver

from .models import User
from .tokens import api_tokens_delete


@receiver(pre_save, sender=User, dispatch_uid="accounts.tokens.note_credentials_change")
def note_credentials_change(sender, instance: User, update_fields=None, raw=False, **kwargs):
    instance._end_api_tokens = False
    if raw or instance.pk is None:
        return
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return  # e.g. last_login at each login: no query
    if not instance.is_active:
        instance._end_api_tokens = True
        return
    stored = User.objects.filter(pk=instance.pk).values_list("password", flat=True).first()
    instance._end_api_tokens = stored is not None and stored != instance.password


@receiver(post_save, sender=User, dispatch_uid="accounts.tokens.end_api_tokens")
def end_api_tokens(sender, instance: User, raw=False, **kwargs):
    if not raw and getattr(instance, "_end_api_tokens", False):
        api_tokens_delete(user_ids=[instance.pk])
        instance._end_api_tokens = False
