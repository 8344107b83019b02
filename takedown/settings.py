"""One settings file, read from the environment (every variable is documented in README.md).

Without any variable set it runs the embedded default: SQLite, Celery tasks in-process, local file storage.
Production sets DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis), DJANGO_SECRET_KEY, ALLOWED_HOSTS and
EVIDENCE_KEYS, and leaves DEBUG off.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
import django_stubs_ext
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

# Lets generic classes such as ModelAdmin[Model] be subscripted at run time, as the type checker sees them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    """A variable, or the contents of the file named by NAME_FILE (Docker and Kubernetes secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = env(name, "true" if default else "false").strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: int) -> int:
    value = env(name, str(default))
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = envbool("DEBUG", False)
TESTING = envbool("TAKEDOWN_TESTING", False)

VAR_DIR = Path(env("VAR_DIR", str(BASE_DIR / "var")))

SECRET_KEY = env("DJANGO_SECRET_KEY")
# Without DEBUG a missing key is refused when a server or worker starts (takedown.core.startup), not here:
# offline commands (hash_image, verify_export, help) must work on a machine with no secrets at all.
if not SECRET_KEY and (DEBUG or TESTING):
    SECRET_KEY = "insecure-development-key-" + "x" * 40

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "127.0.0.1,localhost" if (DEBUG or TESTING) else "")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
# Set when a reverse proxy in front of the app sets X-Forwarded-For (its last hop is taken as the client).
TRUST_X_FORWARDED_FOR = envbool("TRUST_X_FORWARDED_FOR", False)
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# The name the public pages and receipts use. Not "Take It Down": that is NCMEC's service.
SITE_NAME = env("SITE_NAME", "Safe Removal")
# Where Quick exit lands: a neutral page that says nothing about why the person was here.
QUICK_EXIT_URL = env("QUICK_EXIT_URL", "https://www.wikipedia.org/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "detection",
    "takedown.core",
    "takedown.cases",
    "takedown.remedies",
    "takedown.moderation",
    "takedown.partners",
    "victims",
    "takedown.exports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "takedown.core.security.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "takedown.urls"
WSGI_APPLICATION = "takedown.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "takedown.core.roles.role_context",
                "takedown.core.branding.branding_context",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------------
DATABASE_URL = env("DATABASE_URL")
if not DATABASE_URL:
    # The embedded default keeps its database beside the evidence store under VAR_DIR.
    VAR_DIR.mkdir(parents=True, exist_ok=True, mode=0o700)
    DATABASE_URL = f"sqlite:///{VAR_DIR / 'takedown.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 60))}
# A persistent connection is checked before a request reuses it: after a database restart the first request
# reconnects instead of failing on the dead connection (tests/reliability, PostgreSQL restart).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, periodic loop) share the file: wait for the write lock instead of failing.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker, cache (rate limits, lockouts) ---------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
REDIS_URL = env("REDIS_URL", CELERY_BROKER_URL if CELERY_BROKER_URL.startswith("redis") else "")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", "takedown"),
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Celery -----------------------------------------------------------------------------------------------
# No broker configured means tasks run in-process (the embedded default); see takedown.core.outbox.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Detector analysis runs where the model is loaded: the GPU worker consumes "gpu" (docker/compose.yml). Without a
# GPU, DETECTOR_QUEUE=default lets the ordinary worker run it on its CPU.
DETECTOR_QUEUE = env("DETECTOR_QUEUE", "gpu")
CELERY_TASK_ROUTES = {"detection.images_analyse": {"queue": DETECTOR_QUEUE},
                      "detection.videos_analyse": {"queue": DETECTOR_QUEUE}}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2}
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "outbox-relay": {"task": "core.outbox_relay", "schedule": 10.0},
    "worker-heartbeat": {"task": "core.worker_heartbeat", "schedule": 30.0},
    "outbox-prune": {"task": "core.outbox_prune", "schedule": crontab(minute=17)},
    # The 48-hour removal clocks: escalate at 24 and 40 hours, mark overdue at 48 (takedown.remedies).
    "remedies-clock": {"task": "remedies.clock_tick", "schedule": 300.0},
    "moderation-queue-sync": {"task": "moderation.queue_sync", "schedule": 60.0},
}
# Seconds an undispatched outbox row waits before the periodic relay takes it over from the after-commit path.
OUTBOX_RELAY_GRACE_SECONDS = envint("OUTBOX_RELAY_GRACE_SECONDS", 5)
# A task dispatched this long ago that never completed (its worker was killed, Redis lost it, the database was down
# while it ran) is published again; the wait doubles with each attempt, up to OUTBOX_MAX_ATTEMPTS publications.
# Keep it above the longest a task waits in the queue plus runs, or busy periods cause (harmless) second runs.
OUTBOX_REDELIVER_SECONDS = envint("OUTBOX_REDELIVER_SECONDS", 900)
OUTBOX_MAX_ATTEMPTS = envint("OUTBOX_MAX_ATTEMPTS", 6)
# Every worker process reports its queues and detector state this often; /healthz counts a worker live while its
# last report is younger than WORKER_HEARTBEAT_STALE_SECONDS.
WORKER_HEARTBEAT_SECONDS = envint("WORKER_HEARTBEAT_SECONDS", 30)
WORKER_HEARTBEAT_STALE_SECONDS = envint("WORKER_HEARTBEAT_STALE_SECONDS", 90)
# Tests run relayed tasks synchronously at commit; the embedded default runs them on a background thread.
OUTBOX_EAGER_SYNC = TESTING

# --- Storage ------------------------------------------------------------------------------------------------
STORAGE_ROOT = Path(env("STORAGE_ROOT", str(VAR_DIR / "storage")))
STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS: list[Path] = []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": STORAGE_ROOT}},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if (DEBUG or TESTING)
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Uploads never touch disk unencrypted: keep them in memory up to the per-file limit.
MAX_UPLOAD_BYTES = envint("MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = MAX_UPLOAD_BYTES + 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 2 * 1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000
FILE_UPLOAD_PERMISSIONS = 0o600
# Videos (victims/uploads.py): streamed to an unnamed temporary file (never memory), checked, remuxed without
# metadata and stored encrypted in chunks. Limits: docs/intake.md.
VIDEO_MAX_BYTES = envint("VIDEO_MAX_BYTES", 500 * 1024 * 1024)
VIDEO_MAX_SECONDS = envint("VIDEO_MAX_SECONDS", 20 * 60)
VIDEO_MAX_SIDE = envint("VIDEO_MAX_SIDE", 4096)
VIDEO_MAX_PIXELS = envint("VIDEO_MAX_PIXELS", 4096 * 2304)
VIDEO_MAX_FRAMES = envint("VIDEO_MAX_FRAMES", 20 * 60 * 60)
VIDEO_KEYFRAMES = envint("VIDEO_KEYFRAMES", 12)
# Where the unnamed temporary files live (O_TMPFILE: gone when closed or when the process dies); empty: the
# system's temporary directory. Needs room for two copies of the largest video per request in flight.
VIDEO_TMP_DIR = env("VIDEO_TMP_DIR", "")
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700

# --- Detection: synthetic-image detector and provenance (docs/detector.md) ---------------------------------------
# Without weights the detector is off and says so (healthz, moderator page); nothing is downloaded. The weights
# file is checked against DETECTOR_WEIGHTS_SHA256 before it is loaded. Train one: manage.py detector_train.
DETECTOR_WEIGHTS = env("DETECTOR_WEIGHTS")
DETECTOR_WEIGHTS_SHA256 = env("DETECTOR_WEIGHTS_SHA256")
# Empty: the architecture the weights file names. Else a registered name ("npr") or a dotted path to a factory.
DETECTOR_ARCHITECTURE = env("DETECTOR_ARCHITECTURE")
# JSON object of keyword arguments for the architecture (for an operator's bare state_dict).
DETECTOR_ARCH_KWARGS = env("DETECTOR_ARCH_KWARGS", "{}")
DETECTOR_DEVICE = env("DETECTOR_DEVICE", "auto")  # auto, cpu, cuda, cuda:N
DETECTOR_PRECISION = env("DETECTOR_PRECISION", "auto")  # auto (bf16/fp16 on CUDA, fp32 on CPU), fp32, bf16, fp16
DETECTOR_BATCH_SIZE = envint("DETECTOR_BATCH_SIZE", 32)
# Torch threads on the CPU; 0 = one per core. Set 1 where the worker shares its cores (docs/benchmarks.md).
DETECTOR_CPU_THREADS = envint("DETECTOR_CPU_THREADS", 0)
# Empty: the threshold calibrated into the weights file for a target false-positive rate on held-out real images
# (detector_train / detector_eval --calibrate). A number overrides it; outside (0, 1) the detector refuses it and is
# off with that reason (healthz says so) rather than scoring with a threshold that can never or always fire.
try:
    DETECTOR_THRESHOLD: float | None = float(env("DETECTOR_THRESHOLD")) if env("DETECTOR_THRESHOLD") else None
except ValueError as exc:
    raise ImproperlyConfigured("DETECTOR_THRESHOLD must be a number between 0 and 1") from exc
# PEM bundle of C2PA trust anchors the operator accepts; empty means no C2PA signer counts as trusted.
C2PA_TRUST_ANCHORS_PEM = env("C2PA_TRUST_ANCHORS_PEM")

# Evidence encryption keys (AES-256-GCM): comma-separated base64 keys of 32 bytes, the first one encrypts.
EVIDENCE_KEYS = envlist("EVIDENCE_KEYS")

# --- Auth -----------------------------------------------------------------------------------------------------
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "staff-login"
LOGIN_REDIRECT_URL = "staff-home"
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", "Takedown")
# The admin never shows a staff member's TOTP seed or QR code (staff_create prints it once). It also keeps
# django_otp's config/QR views from looking a device up before checking permission (a 500 for a missing id).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# Failed staff sign-ins per account and per client address before a lockout of the same length.
STAFF_LOGIN_MAX_FAILURES = envint("STAFF_LOGIN_MAX_FAILURES", 5)
STAFF_LOGIN_LOCKOUT_SECONDS = envint("STAFF_LOGIN_LOCKOUT_SECONDS", 900)
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 8 * 3600)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# --- HTTP security ------------------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not (DEBUG or TESTING))
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if (DEBUG or TESTING) else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
# "same-origin", not "no-referrer": under no-referrer browsers send `Origin: null` with form posts, which
# Django's CSRF check refuses (every form fails in a real browser). Other sites still get no referrer.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if envbool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = not (DEBUG or TESTING)
CSRF_COOKIE_SECURE = not (DEBUG or TESTING)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
X_FRAME_OPTIONS = "DENY"

# --- i18n -----------------------------------------------------------------------------------------------------
LANGUAGE_CODE = "en"
# The victim's pages in each; Arabic is written right to left (base.html sets dir="rtl", the CSS uses logical
# properties). Every catalogue is complete (tests/victims/test_translations.py).
LANGUAGES = [("en", "English"), ("es", "Español"), ("fr", "Français"), ("pt", "Português"), ("de", "Deutsch"),
             ("ar", "العربية")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# The chosen language rides in a cookie as strict as the others (no script reads it; never sent cross-site).
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Strict"
LANGUAGE_COOKIE_SECURE = not (DEBUG or TESTING)
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Email ----------------------------------------------------------------------------------------------------
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 587)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", True)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "takedown@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- API ------------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "takedown.api.errors.api_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Takedown partner API",
    "DESCRIPTION": (
        "Hash lookup, sync, feedback and webhooks for partner platforms, plus StopNCII-compatible and HMA-shaped "
        "endpoints. Authenticate with `Authorization: Bearer tdk_...` (the StopNCII endpoints take "
        "`Ocp-Apim-Subscription-Key` and `x-functions-key`). Every error is "
        "`{\"error\": {\"code\", \"message\"}}` with a 4xx; see docs/partner-api.md for the codes, sync "
        "checkpoints and webhook signatures."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PUBLIC": True,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/(api/v1|api/stopncii/v1|m)",
    "ENUM_NAME_OVERRIDES": {"EntryStatusEnum": "takedown.partners.bank.ENTRY_STATUSES"},
}

# --- Partner API (takedown.partners, takedown.api) -------------------------------------------------------------
# HMAC pepper for stored partner keys; without it one is derived from DJANGO_SECRET_KEY (rotating that then
# voids every partner key). Set it in production.
PARTNER_KEY_PEPPER = env("PARTNER_KEY_PEPPER")
# How long a process trusts what it read about a key: the longest a revocation takes to reach every process.
PARTNER_KEY_CACHE_SECONDS = envint("PARTNER_KEY_CACHE_SECONDS", 10)
PARTNER_RATE_LIMIT_PER_MINUTE = envint("PARTNER_RATE_LIMIT_PER_MINUTE", 6000)
# Wrong partner keys per client address per minute before that address is answered 429.
PARTNER_AUTH_FAILURES_PER_MINUTE = envint("PARTNER_AUTH_FAILURES_PER_MINUTE", 30)
PARTNER_BATCH_MAX = 1000
# Most videos in one vPDQ batch lookup (each up to 20,000 frames; the request body limit applies too).
PARTNER_VPDQ_BATCH_MAX = envint("PARTNER_VPDQ_BATCH_MAX", 100)
# PDQ matches within 31 bits by convention; a partner may ask for less, never more.
PARTNER_PDQ_MAX_DISTANCE = envint("PARTNER_PDQ_MAX_DISTANCE", 31)
PARTNER_PDQ_DISTANCE_CAP = 31
PARTNER_HASH64_MAX_DISTANCE = envint("PARTNER_HASH64_MAX_DISTANCE", 8)
PARTNER_HASH64_DISTANCE_CAP = 10
if not 0 <= PARTNER_PDQ_MAX_DISTANCE <= PARTNER_PDQ_DISTANCE_CAP:
    raise ImproperlyConfigured("PARTNER_PDQ_MAX_DISTANCE must be between 0 and 31")
if not 0 <= PARTNER_HASH64_MAX_DISTANCE <= PARTNER_HASH64_DISTANCE_CAP:
    raise ImproperlyConfigured("PARTNER_HASH64_MAX_DISTANCE must be between 0 and 10")
# Share hashes still awaiting review (status Received) with partners, as StopNCII does; off: only reviewed ones.
PARTNER_SHARE_RECEIVED = envbool("PARTNER_SHARE_RECEIVED", False)
# Sync checkpoints and the webhook feed stay this far behind now, so a change committed late is never skipped.
PARTNER_SYNC_SAFETY_SECONDS = envint("PARTNER_SYNC_SAFETY_SECONDS", 30)
PARTNER_SYNC_PAGE_MAX = 5000
PARTNER_STOPNCII_PAGE_MAX = 1000
PARTNER_FEEDBACK_NOTE_MAX = 1000
PARTNER_HMA_BANK_NAME = env("PARTNER_HMA_BANK_NAME", "TAKEDOWN")
PARTNER_WEBHOOK_TIMEOUT_SECONDS = envint("PARTNER_WEBHOOK_TIMEOUT_SECONDS", 10)
PARTNER_WEBHOOK_MAX_ATTEMPTS = envint("PARTNER_WEBHOOK_MAX_ATTEMPTS", 8)
PARTNER_WEBHOOK_BACKOFF_SECONDS = envint("PARTNER_WEBHOOK_BACKOFF_SECONDS", 30)
PARTNER_WEBHOOK_BACKOFF_MAX_SECONDS = 3600
# Development and tests deliver to local http:// receivers; production only to public https:// addresses.
PARTNER_WEBHOOK_ALLOW_HTTP = envbool("PARTNER_WEBHOOK_ALLOW_HTTP", DEBUG or TESTING)
PARTNER_WEBHOOK_ALLOW_PRIVATE = envbool("PARTNER_WEBHOOK_ALLOW_PRIVATE", DEBUG or TESTING)
# The bank the API reads (takedown.partners.bank.HashBank); tests swap in an in-memory one.
PARTNER_API_BANK = "takedown.partners.bank_detection.detection_bank"
CELERY_BEAT_SCHEDULE["partners-webhook-bank-changes"] = {"task": "partners.webhook_bank_changes", "schedule": 10.0}

# --- Hash bank (detection.bank) ------------------------------------------------------------------------------
# Where each host keeps its shared, memory-mapped index snapshots; empty: every process builds its own in memory
# (the embedded default and tests). Production sets it to a local directory on each host.
BANK_INDEX_DIR = env("BANK_INDEX_DIR", "")
# How often a process reads changes (new, withdrawn, deleted hashes) from the database: the staleness bound.
BANK_REFRESH_SECONDS = float(env("BANK_REFRESH_SECONDS", "0" if TESTING else "2"))
# A change committed up to this long after its timestamp is still picked up by every process.
BANK_REFRESH_OVERLAP_SECONDS = float(env("BANK_REFRESH_OVERLAP_SECONDS", "30"))
# A process's delta beyond this many changed entries, or a snapshot older than this, triggers a rebuild.
BANK_DELTA_MAX = envint("BANK_DELTA_MAX", 50_000)
BANK_SNAPSHOT_MAX_AGE = envint("BANK_SNAPSHOT_MAX_AGE", 3600)
# Each process refreshes its index on a background thread; lookups never read the database or build. Tests
# refresh on the calling thread instead: their writes sit in a transaction other threads cannot read.
BANK_REFRESH_IN_BACKGROUND = envbool("BANK_REFRESH_IN_BACKGROUND", not TESTING)
# How long a lookup in a process that has no view yet waits for its refresher's first load before a 503.
BANK_READY_SECONDS = float(env("BANK_READY_SECONDS", "10"))

# --- Logging --------------------------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "takedown.core.logredact.RedactingFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Request bodies and headers are never logged; Django's request logger only names the path.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING" if TESTING else "INFO"},
    },
}
# --- Moderation and remedies -------------------------------------------------------------------------------
# How long a moderator's claim on a review item lasts before another moderator may take it.
MODERATION_CLAIM_SECONDS = envint("MODERATION_CLAIM_SECONDS", 900)
# Target time to a first decision on a new report; orders the queue alongside the statutory deadlines.
MODERATION_REVIEW_TARGET_HOURS = envint("MODERATION_REVIEW_TARGET_HOURS", 24)
# A rejection takes effect only after a second moderator agrees.
MODERATION_SECOND_REVIEW = envbool("MODERATION_SECOND_REVIEW", False)
# Who signs removal requests as the person's authorised agent, and where hosts reply (the Act's contact element).
REMEDIES_OPERATOR_NAME = env("REMEDIES_OPERATOR_NAME", "Takedown operator")
REMEDIES_OPERATOR_EMAIL = env("REMEDIES_OPERATOR_EMAIL", DEFAULT_FROM_EMAIL)
REMEDIES_OPERATOR_ADDRESS = env("REMEDIES_OPERATOR_ADDRESS")
# Hosts missing from the directory get requests at abuse@<domain> (RFC 2142) instead of waiting for a moderator.
REMEDIES_FALLBACK_ABUSE_MAILBOX = envbool("REMEDIES_FALLBACK_ABUSE_MAILBOX", True)


DEMO_DATA_STEPS: list[str] = [
    "takedown.partners.demo.demo_partners",
    "victims.demo.demo_case",
    "takedown.remedies.demo.remedies_demo_data",
]
# Hooks other apps fill (dotted paths; see victims.services and victims.status for their signatures).
CASE_QUEUED_HOOKS: list[str] = ["takedown.moderation.intake_hooks.case_queued"]
CASE_WITHDRAW_HOOKS: list[str] = ["takedown.moderation.intake_hooks.case_withdrawn"]
# Called once intake has hashed a case's new images: queues detector and provenance analysis (gpu queue).
CASE_PROCESSED_HOOKS: list[str] = ["takedown.cases.services.case_processed",
                                    "takedown.cases.video_analysis.case_processed_videos"]
CASE_REMEDY_PROVIDERS: list[str] = ["takedown.remedies.intake_hooks.remedy_rows"]
# The retention purge tells other apps through the `takedown.cases.hooks.case_purging` signal, which they
# connect to at start-up (victims' hash-bank links): takedown never names them.

# --- Remedy delivery (takedown.remedies.smtp, takedown.remedies.bounces) --------------------------------------
# The envelope sender of requests sent by e-mail. With "bounces@operator.example" each message goes out from
# "bounces+<message id>@operator.example" (VERP), so a bounce names the very message that failed; point that
# mailbox's delivery at `manage.py remedies_bounce` or at the bounce webhook. Empty: DEFAULT_FROM_EMAIL, and
# bounces are matched by the Message-ID they quote.
REMEDIES_BOUNCE_ADDRESS = env("REMEDIES_BOUNCE_ADDRESS")
# Bearer token of POST /hooks/remedies/bounce (a DSN as the body); the path answers 404 while it is empty.
REMEDIES_BOUNCE_WEBHOOK_TOKEN = env("REMEDIES_BOUNCE_WEBHOOK_TOKEN")
REMEDIES_BOUNCE_MAX_BYTES = envint("REMEDIES_BOUNCE_MAX_BYTES", 2 * 1024 * 1024)
# A request handed to a partner that its system has not taken after this long goes to the moderators' queue.
REMEDIES_UNRECEIVED_ALERT_HOURS = envint("REMEDIES_UNRECEIVED_ALERT_HOURS", 12)

# --- Retention (takedown.cases.services; manage.py retention_purge) ---------------------------------------------
# Days after withdrawal before what is left of a withdrawn case (no images or hashes: those go at withdrawal) is
# deleted; days after its last change before a case closed as not taken forward loses its evidence and rows;
# hours before an evidence file that no row names (a crash between writing it and committing) is deleted.
RETENTION_WITHDRAWN_DAYS = envint("RETENTION_WITHDRAWN_DAYS", 30)
RETENTION_REJECTED_DAYS = envint("RETENTION_REJECTED_DAYS", 180)
RETENTION_ORPHAN_HOURS = envint("RETENTION_ORPHAN_HOURS", 24)
if min(RETENTION_WITHDRAWN_DAYS, RETENTION_REJECTED_DAYS, RETENTION_ORPHAN_HOURS) < 0:
    raise ImproperlyConfigured("RETENTION_* windows must be 0 or more")
CELERY_BEAT_SCHEDULE["retention-purge"] = {"task": "cases.retention_purge", "schedule": crontab(hour=3, minute=41)}

# --- Court exports (takedown.exports) ---------------------------------------------------------------------------
# Files written by `manage.py export_keys_generate --out DIR`; unset in DEBUG/tests means a development set under
# VAR_DIR. EXPORT_TSA_URL empty means the local TSA (EXPORT_TSA_CERT_FILE + EXPORT_TSA_KEY_FILE) stamps exports;
# EXPORT_TSA_CA_FILE is the CA bundle shipped in each export for `openssl ts -verify` (the TSA's, either way).
EXPORT_SIGNING_KEY_FILE = env("EXPORT_SIGNING_KEY_FILE")
EXPORT_TSA_URL = env("EXPORT_TSA_URL")
# Production needs EXPORT_TSA_URL (a third party vouches for the time) or this, stating that the operator's own local
# TSA is accepted (check --deploy refuses neither otherwise; takedown.core.checks).
EXPORT_TSA_LOCAL_ACCEPTED = envbool("EXPORT_TSA_LOCAL_ACCEPTED", False)
# A second, independent public TSA that also stamps every export (optional), and its CA certificates (PEM).
EXPORT_TSA2_URL = env("EXPORT_TSA2_URL")
EXPORT_TSA2_CA_FILE = env("EXPORT_TSA2_CA_FILE")
# Fingerprints of signing keys used before a rotation, still published so that older exports can be pinned.
EXPORT_RETIRED_KEY_FINGERPRINTS = envlist("EXPORT_RETIRED_KEY_FINGERPRINTS")
EXPORT_TSA_CA_FILE = env("EXPORT_TSA_CA_FILE")
EXPORT_TSA_CERT_FILE = env("EXPORT_TSA_CERT_FILE")
EXPORT_TSA_KEY_FILE = env("EXPORT_TSA_KEY_FILE")
EXPORT_TSA_TIMEOUT = envint("EXPORT_TSA_TIMEOUT", 15)
EXPORT_OPERATOR_NAME = env("EXPORT_OPERATOR_NAME", "")
EXPORT_GRANT_MAX_DAYS = envint("EXPORT_GRANT_MAX_DAYS", 365)
# In development and tests WhiteNoise serves straight from the apps' static folders (no collectstatic).
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
