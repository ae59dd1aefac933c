from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from clients.validators import validate_plain_text

from .roles import Role


class Department(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    code = models.CharField(_("code"), max_length=20, unique=True)
    head = models.ForeignKey(
        "accounts.User",
        verbose_name=_("head"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="headed_departments",
    )
    # A handover registered by the HR system (POST /api/hr/departures/) takes its witness, manager
    # and, when the HR system names no receiver, its receiver from the person's department.
    default_witness = models.ForeignKey(
        "accounts.User",
        verbose_name=_("default witness"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    default_manager = models.ForeignKey(
        "accounts.User",
        verbose_name=_("default manager in charge"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    default_receiver = models.ForeignKey(
        "accounts.User",
        verbose_name=_("default receiver"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # How many clients each salesperson of the department may hold (their book and what they are
    # to receive in open handovers); a person's own cap overrides it. Empty: no cap.
    client_cap = models.PositiveIntegerField(
        _("client cap per salesperson"),
        null=True,
        blank=True,
        help_text=_(
            "The most clients a salesperson of this department may hold, counting those they are to receive "
            "in open handovers. A person's own cap overrides it. Empty: no cap."
        ),
    )

    class Meta:
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    employee_no = models.CharField(_("employee number"), max_length=20, unique=True, null=True, blank=True)
    # Shown on every handover, signature and PDF: no characters that turn it round or hide in it.
    full_name = models.CharField(_("full name"), max_length=50, blank=True, validators=[validate_plain_text])
    phone = models.CharField(_("phone"), max_length=20, blank=True)
    department = models.ForeignKey(
        Department,
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="members",
    )
    supervisor = models.ForeignKey(
        "self",
        verbose_name=_("direct supervisor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="subordinates",
    )
    client_cap = models.PositiveIntegerField(
        _("client cap"),
        null=True,
        blank=True,
        help_text=_(
            "The most clients this salesperson may hold, counting those they are to receive in open handovers; "
            "receivers beyond it are refused. Empty: the department's cap."
        ),
    )

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["employee_no", "username"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.display_name_of(self.full_name, self.first_name, self.last_name, self.username)

    # What display_name reads, for lists that fetch these columns rather than whole users.
    DISPLAY_NAME_FIELDS = ("full_name", "first_name", "last_name", "username")

    @staticmethod
    def display_name_of(full_name: str, first_name: str, last_name: str, username: str) -> str:
        # As AbstractUser.get_full_name() for the middle step.
        return full_name or f"{first_name} {last_name}".strip() or username

    @property
    def effective_client_cap(self) -> int | None:
        """Their own cap, else their department's (None: no cap). Reads the department: select it with the user."""
        if self.client_cap is not None:
            return self.client_cap
        return self.department.client_cap if self.department_id else None

    def get_short_name(self) -> str:
        # The admin greets by it ("欢迎，王主管。"): the person's name, not the login.
        return self.display_name

    @cached_property
    def role_codes(self) -> frozenset[str]:
        # One query per request at most; views read it many times.
        return frozenset(self.groups.values_list("name", flat=True))

    def has_role(self, role: str) -> bool:
        return role in self.role_codes

    @property
    def role_labels(self) -> list[str]:
        return [str(label) for code, label in Role.choices if code in self.role_codes]


class AccessLog(models.Model):
    """Who looked at or took which client data, and when: the procedures keep client data
    confidential, on a need-to-know basis, every access traceable.

    One row per request (a list page is one row with its filters, not one per client shown);
    written with a single INSERT by accounts.access.log_access. Never edited or deleted here.
    """

    class Action(models.TextChoices):
        LIST_CLIENTS = "list_clients", _("Listed clients")
        VIEW_CLIENT = "view_client", _("Viewed a client")
        EXPORT_CLIENTS = "export_clients", _("Exported clients")
        IMPORT_CLIENTS = "import_clients", _("Imported a client book")
        API_HANDOVER = "api_handover", _("Read a handover through the API")
        VIEW_HANDOVER = "view_handover", _("Viewed a handover")
        PRINT_HANDOVER = "print_handover", _("Printed a handover list")
        DOWNLOAD_ARCHIVE = "download_archive", _("Downloaded an archived confirmation")
        CLIENT_ANSWER = "client_answer", _("A client opened their notice link")
        CLIENT_SURVEY = "client_survey", _("A client opened their survey link")

    # PROTECT: people leave and are deactivated, never deleted; their trail must stay. Empty for
    # a page open without a login (a client's notice link).
    user = models.ForeignKey(
        User,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        related_name="access_logs",
        db_index=False,
        null=True,
        blank=True,
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    client = models.ForeignKey(
        "clients.Client",
        verbose_name=_("client"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    detail = models.CharField(_("detail"), max_length=1000, blank=True, help_text=_("Filters, file name, or object."))
    refused = models.BooleanField(_("refused"), default=False)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("access log entry")
        verbose_name_plural = _("access log")
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["user", "at"], name="accesslog_user_at"),
            models.Index(fields=["client", "at"], name="accesslog_client_at"),
            models.Index(fields=["at"], name="accesslog_at"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.user_id} {self.action}"
