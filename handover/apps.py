from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HandoverConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "handover"
    verbose_name = _("Handover")

    def ready(self):
        # clients never imports handover: the procedure hands its rule on owner changes to
        # clients.ownership, which the import and the admin ask.
        from clients.ownership import register_owner_guard

        from . import services

        register_owner_guard(services.ownership_refusals)
