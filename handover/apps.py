from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HandoverConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "handover"
    verbose_name = _("Handover")

    def ready(self):
        # Imported here, as Django asks: these modules load models, which exist only once the apps are ready.
        from clients import hooks
        from clients.ownership import register_owner_guard
        from notifications import webhooks

        from . import models, notify, reminders, selectors, services, signing, tasks

        # clients never imports handover: the procedure hands its rules on owner changes, on who
        # sees a client during a handover and on who may export clients to clients, which asks them.
        register_owner_guard(services.ownership_refusals)
        # During a cover, too, the absent person reads the covered clients if the company's CoverPolicy
        # says so (never edits: those ask for the owner): one grant for both (selectors/cover.py).
        hooks.register_visibility_grant(selectors.clients_granted)
        hooks.register_export_lock(selectors.departing_is_locked)
        # ... and exports nothing during the cover.
        hooks.register_export_lock(selectors.absent_in_cover)
        # A follow-up recorded on a client closes, in its transaction, the duties it proves.
        hooks.register_follow_up_listener(reminders.duties_close_by_follow_up)
        # The client page's "after the handover" card: what became of the client since each handover.
        hooks.register_client_panel(selectors.client_outcome_panel)
        # ... and the client's answers to the satisfaction surveys.
        hooks.register_client_panel(_client_page_surveys)
        # Lower layers are handed what sits above them, so that imports run one way: the models'
        # signature conditions get signing's checker, the services and notices the Celery tasks.
        models.use_signature_checker(signing.checker_for)
        # The daily scan (reminders.reminders_scan) ends the covers whose return date has come.
        reminders.covers_end_with(services.covers_end_due)
        # .delay is looked up at each call, so a test (or a broker outage) can stand in for it.
        # With no broker Celery runs a task eagerly, in the caller: the archive then goes to a thread.
        services.queue_archive_with(
            lambda handover_id: tasks.archive_handover.delay(handover_id),
            eager=lambda: bool(tasks.archive_handover.app.conf.task_always_eager),
        )
        services.queue_annex_with(lambda handover_id: tasks.print_confirmation_annex.delay(handover_id))
        notify.deliver_with(lambda notification_id: tasks.deliver_notification.delay(notification_id))
        services.deliver_notices_with(
            lambda delivery_id: tasks.deliver_client_notice.delay(delivery_id),
            eager=lambda: bool(tasks.deliver_client_notice.app.conf.task_always_eager),
        )
        services.invitations_deliver_with(
            lambda delivery_id: tasks.deliver_invitation.delay(delivery_id),
            eager=lambda: bool(tasks.deliver_invitation.app.conf.task_always_eager),
        )
        webhooks.deliver_webhooks_with(
            lambda delivery_id: tasks.deliver_webhook.delay(delivery_id),
            eager=lambda: bool(tasks.deliver_webhook.app.conf.task_always_eager),
        )
        services.deliver_surveys_with(
            lambda delivery_id: tasks.deliver_client_survey.delay(delivery_id),
            eager=lambda: bool(tasks.deliver_client_survey.app.conf.task_always_eager),
        )


def _client_page_surveys(user, client) -> str:
    from .views import client_page_surveys

    return client_page_surveys(client, user)
