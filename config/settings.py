"""One env-driven settings file.

With no environment at all it runs on SQLite with development defaults; production sets
DATABASE_URL, REDIS_URL, SECRET_KEY, DEBUG=0 and ALLOWED_HOSTS.
"""

import datetime
import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise RuntimeError("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-change-me-in-production-0123456789"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_htmx",
    "accounts",
    "clients",
    "handover",
    "notifications",
    # Tools, imported by no app above: `manage.py seed_demo` (the README's first command loads
    # the demo) and `manage.py bench`. They have no models and no URLs.
    "demo",
    "bench",
]

MIDDLEWARE = [
    # Under /api/ every answer is JSON in the API's error shape, Django's own refusals included
    # (handover/api_errors.py).
    "handover.api_errors.ApiErrorMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "accounts.csp.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "accounts.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless the view is marked with @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The request's address for links printed later, when SITE_URL is not set (handover/origin.py).
    "handover.origin.RequestOriginMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "notifications.context_processors.notifications",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
    )
}
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # PostgreSQL's JIT compiles the plan of any query it expects to be large: on a big client book
    # it added 0.5-1 s to list queries that then run in a few milliseconds. Off for the app's
    # connections (DB_OPTIONS to pass other server settings instead).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = os.environ.get("DB_OPTIONS", "-c jit=off")
elif DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # With no broker the background work (the archive, invitations, webhooks) runs in threads of the
    # web process, writing beside the requests: a write takes the lock when its transaction begins
    # and waits for theirs, instead of failing at once with "database is locked" (an API client
    # walking a handover quickly met that after saving the plan, while the invitations went out).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("transaction_mode", "IMMEDIATE")
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Uploads (client-book import): refuse anything larger than this before parsing it.
IMPORT_MAX_BYTES = int(os.environ.get("IMPORT_MAX_BYTES", str(5 * 1024 * 1024)))
# Data rows in one import file (all sheets together): the import runs
# inside the web request, and 10,000 rows take about 20 s (the bench does 5,000 in 10).
IMPORT_MAX_ROWS = int(os.environ.get("IMPORT_MAX_ROWS", "10000"))
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

REDIS_URL = os.environ.get("REDIS_URL", "")
# The cache holds the login-failure counts (accounts/auth.py). LocMemCache is per process: with
# several web processes (gunicorn workers) production must share one, hence Redis when configured.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
        # A Redis that is down or unreachable must fail fast, not hang a login: accounts/auth.py
        # then counts in the process's memory.
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
    if REDIS_URL
    # Room for every counter: culling old entries would let a guesser erase their own lockout.
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "OPTIONS": {"MAX_ENTRIES": 100_000}}
}
# Login throttling: this many failures for one username from one address within the window
# lock that username out from that address for the lockout time (login page and API token alike).
# Sessions in the database (Django's default, stated so that it stays): never in the cache, so a
# Redis outage logs nobody out.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_FAILURE_WINDOW = int(os.environ.get("LOGIN_FAILURE_WINDOW", str(15 * 60)))
LOGIN_LOCKOUT_SECONDS = int(os.environ.get("LOGIN_LOCKOUT_SECONDS", str(15 * 60)))
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
# Without a broker, tasks run in the web process (eagerly) and `manage.py run_scheduler`
# stands in for beat; failures are logged and picked up again by the next scan.
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A broker that is down must not hang a request: fail fast, the scan queues it again.
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
REMINDER_SCAN_MINUTES = int(os.environ.get("REMINDER_SCAN_MINUTES", "15"))
CELERY_BEAT_SCHEDULE = {
    "scan-reminders": {"task": "handover.tasks.scan_reminders", "schedule": REMINDER_SCAN_MINUTES * 60.0},
}

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "handover@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "accounts.tokens.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "handover.api.exception_handler",
}
# API tokens (django-rest-knox, accounts/tokens.py): stored hashed, expiring this many days after
# they were given (use does not renew them); a password change or deactivation ends them at once.
API_TOKEN_TTL_DAYS = int(os.environ.get("API_TOKEN_TTL_DAYS", "30"))
REST_KNOX = {"TOKEN_TTL": datetime.timedelta(days=API_TOKEN_TTL_DAYS), "AUTO_REFRESH": False}
SPECTACULAR_SETTINGS = {
    "TITLE": "Handover API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page runs on an intranet: Swagger UI comes from drf-spectacular-sidecar, nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Several models have a "kind": the follow-up's and the duty's get names of their own.
    "ENUM_NAME_OVERRIDES": {
        "FollowUpKindEnum": "clients.models.FollowUpKind",
        "DutyKindEnum": "handover.models.DutyKind",
        # The checklist item's keeps the name it had while it was the only one.
        "KindEnum": "handover.models.ItemKind",
        "ReasonEnum": "handover.models.Reason",
        # The split's mode has its own; the visit's keeps the name it had while it was the only "mode".
        "SplitModeEnum": "handover.split.MODE_CHOICES",
        "ModeEnum": "handover.choices.VisitMode",
        "ContractStatusEnum": "clients.models.ContractStatus",
        "ClientStatusEnum": "clients.models.ClientStatus",
        # A client's relationship risk: the level now and the one stored with the spot-check draw.
        "RiskLevelEnum": "handover.choices.RiskLevel",
        # The handover state, in its state field and in the path of states it passes.
        "StateEnum": "handover.flow.State",
        "PartEnum": "handover.flow.Part",
    },
}

COMPANY_NAME = os.environ.get("COMPANY_NAME", "示例销售有限公司")
# Printed in the QR code of archived confirmations: the address people reach the site at. Unset,
# the address of the request that completed the handover is printed (handover/origin.py).
SITE_URL = os.environ.get("SITE_URL", "")
# The company seal (PAdES signature on archived confirmations). `manage.py seal_setup` makes a
# self-signed company CA and seal certificate in SEAL_DIR; or give your own files by path.
SEAL_DIR = Path(os.environ.get("SEAL_DIR", BASE_DIR / "var" / "seal"))
SEAL_CERT_PATH = os.environ.get("SEAL_CERT_PATH", "")
SEAL_KEY_PATH = os.environ.get("SEAL_KEY_PATH", "")
SEAL_CA_PATH = os.environ.get("SEAL_CA_PATH", "")
SEAL_KEY_PASSPHRASE = os.environ.get("SEAL_KEY_PASSPHRASE", "")

# Headers on every response, development included (most are Django's defaults, stated so that
# they stay): no framing, no content sniffing, no full URLs (with their ids) sent to other sites.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
# A session lasts a working day from logging in (not renewed by use), then the login page again.
SESSION_AGE_HOURS = float(os.environ.get("SESSION_AGE_HOURS", "8"))
SESSION_COOKIE_AGE = int(SESSION_AGE_HOURS * 3600)
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

# Content-Security-Policy (django-csp): scripts, styles, fonts and images from this site only, as
# every asset is vendored; no inline script, no inline style, no on...= attribute (their code is in
# static/js). "data:" images are Bootstrap's and Swagger UI's icons (SVG in their CSS). The API
# docs page loads its script as a file too (SpectacularSwaggerSplitView, handover/api_urls.py).
# PDFs go without it (accounts/csp.py): Chrome's PDF viewer shows nothing under a strict policy.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

if not DEBUG:
    # HTTPS only: cookies never travel in clear, browsers remember to use HTTPS (HSTS). Behind a
    # reverse proxy that terminates TLS, it must set X-Forwarded-Proto (and strip a client's own).
    # (Switched off only to load-test plain HTTP on this machine: scripts/loadtest.sh.)
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Run in-process (no broker), every task would log a line into the web server's output.
    "loggers": {
        "celery.app.trace": {"level": "WARNING" if CELERY_TASK_ALWAYS_EAGER else "INFO"},
        # WeasyPrint logs every step of every PDF at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
# How long an API write's Idempotency-Key is remembered, in seconds (handover/idempotency.py).
IDEMPOTENCY_KEY_TTL = int(os.environ.get("IDEMPOTENCY_KEY_TTL", str(24 * 60 * 60)))

# Text messages to clients (the client notice): a class of handover/sms.py, or a provider's own
# subclass of handover.sms.SMSBackend named by its dotted path.
SMS_BACKEND = os.environ.get("SMS_BACKEND", "handover.sms.ConsoleSMSBackend")
# The client's answer page (no login): requests allowed per window, by address and by link.
CLIENT_ANSWER_RATE_WINDOW = int(os.environ.get("CLIENT_ANSWER_RATE_WINDOW", "600"))
CLIENT_ANSWER_RATE_PER_IP = int(os.environ.get("CLIENT_ANSWER_RATE_PER_IP", "30"))
CLIENT_ANSWER_RATE_PER_TOKEN = int(os.environ.get("CLIENT_ANSWER_RATE_PER_TOKEN", "10"))
