"""Settings for every run mode, read from the environment in this one place.

Embedded mode (nothing configured): SQLite in var/, the launcher's private Redis
(it exports REDIS_URL to its children), filesystem storage, simulated broker,
offline analyst. Services mode: DATABASE_URL and REDIS_URL. Compose mode adds
S3-compatible storage through the AWS_* settings.
"""

import os
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from tradingweb.outbound import parse_allowed

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR") or BASE_DIR / "var")


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    value = os.environ.get(name)
    number = int(value) if value not in (None, "") else default
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {number}")
    return number


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value not in (None, "") else default


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (os.environ.get(name) or default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


# Web port of the embedded launcher (`make run PORT=8001`) and of `make up`.
PORT = env_int("PORT", 8000)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY") or "embedded-mode-insecure-key-set-SECRET_KEY-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "django_celery_beat",
    "django_celery_results",
    "channels",
    "tradingweb",
    "broker",
    "workflows",
    "agents",
    "execution",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "tradingweb.urls"
WSGI_APPLICATION = "tradingweb.wsgi.application"
ASGI_APPLICATION = "tradingweb.asgi.application"

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
                "tradingweb.context_processors.trading_mode",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'tradingweb.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WAL lets the web, worker and beat processes read while one writes.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
else:
    DATABASES["default"].setdefault("TEST", {})
    DATABASES["default"]["TEST"]["NAME"] = os.environ.get("TEST_DATABASE_NAME") or None
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files and storage --------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "tradingweb" / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT") or VAR_DIR / "media")

AWS_STORAGE_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "")
AWS_S3_ENDPOINT_URL = os.environ.get("AWS_S3_ENDPOINT_URL") or None
AWS_ACCESS_KEY_ID = os.environ.get("AWS_ACCESS_KEY_ID", "")
AWS_SECRET_ACCESS_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
AWS_S3_REGION_NAME = os.environ.get("AWS_S3_REGION_NAME") or None
AWS_QUERYSTRING_AUTH = env_bool("AWS_QUERYSTRING_AUTH", True)
STORAGES = {
    "default": {
        "BACKEND": "storages.backends.s3.S3Storage"
        if AWS_STORAGE_BUCKET_NAME
        else "django.core.files.storage.FileSystemStorage",
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Redis, Celery, Channels ------------------------------------------------
# Embedded mode: the launcher starts a private Redis and exports REDIS_URL.
# With no REDIS_URL at all (management commands, unit tests), Celery and
# Channels fall back to in-memory transports.
REDIS_URL = os.environ.get("REDIS_URL", "")
# Separates several installations (or test runs) sharing one Redis server.
REDIS_KEY_PREFIX = os.environ.get("REDIS_KEY_PREFIX", "tw:")

CELERY_BROKER_URL = REDIS_URL or "memory://"
# Task results (the Task Queue page's history, Flower's too) live in the database in every mode,
# so they survive restarts of Redis and the workers; CELERY_RESULT_EXPIRES prunes them daily.
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True  # task name, arguments and worker, for the history list and the admin
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "global_keyprefix": REDIS_KEY_PREFIX,
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600 * 2),
    # Strict priority: a worker drains high before normal before low (kombu's own "priority"
    # strategy orders the queues by set iteration, i.e. at random per process; see execution/queue_order.py).
    "queue_order_strategy": "execution.queue_order:StrictPriorityCycle",
    # Fairness within a queue: one list per step, 0 taken first; an execution's step is its owner's
    # rank among the owner's messages waiting there, so owners interleave (execution/queue_order.py).
    "priority_steps": list(range(10)),
}
# …and consumed queue by queue (all of high's steps before normal's): kombu's own Redis transport
# asks step by step across the queues, which would take low's first step before high's second.
if urlparse(CELERY_BROKER_URL).scheme in ("redis", "rediss"):
    CELERY_BROKER_TRANSPORT = "execution.queue_order:StrictPriorityTransport"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_DEFAULT_QUEUE = "normal"
CELERY_TASK_QUEUES_BY_PRIORITY = ("high", "normal", "low")
# The io workers' queues; the cpu workers' one (CPU_WORK_QUEUE, tradingweb/worker.py) is declared when a
# cpu worker or the first chart sent to it names it (task_create_missing_queues).
CELERY_TASK_QUEUES = [Queue(name) for name in CELERY_TASK_QUEUES_BY_PRIORITY]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 3600)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", CELERY_TASK_SOFT_TIME_LIMIT + 60)
CELERY_RESULT_EXPIRES = env_int("CELERY_RESULT_EXPIRES", 24 * 3600)
# Two kinds of worker (tradingweb/worker.py). The io worker runs the executions (queues high, normal, low)
# and the maintenance tasks on a threads pool: an execution spends its time waiting on the model and the
# broker, and a waiting thread costs no core. Each thread holds a database connection of its own while it
# runs a task, so one io worker needs up to CONCURRENCY + 1 connections (docs/deploy.md). Embedded SQLite
# (WAL, 20 s busy timeout) took 64 threads writing at once without a "database is locked".
CELERY_IO_WORKER_CONCURRENCY = env_int("CELERY_IO_WORKER_CONCURRENCY", 64, minimum=1)
# The cpu worker renders charts in processes, one per core by default, from the queue CPU_WORK_QUEUE.
CELERY_CPU_WORKER_CONCURRENCY = env_int("CELERY_CPU_WORKER_CONCURRENCY", os.cpu_count() or 1, minimum=1)
# Empty: no cpu worker; charts are drawn in the io worker's thread that asks for them.
CPU_WORK_QUEUE = os.environ.get("CPU_WORK_QUEUE", "cpu").strip()
# A generate_chart step waits this long for a cpu worker to draw its chart (queueing included), then fails the symbol.
CHART_RENDER_TIMEOUT_SECONDS = env_int("CHART_RENDER_TIMEOUT_SECONDS", 300, minimum=1)
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Fixed periodic work is registered by execution.maintenance.setup_periodic_tasks (beat calls it at start).
# Seconds between sweeps for approvals whose countdown task was lost (e.g. a worker restart).
APPROVAL_SWEEP_SECONDS = env_int("APPROVAL_SWEEP_SECONDS", 60)
# place_order asks the broker for the price again when the decision's market reference is older than this.
PRICE_REFERENCE_MAX_AGE_SECONDS = env_int("PRICE_REFERENCE_MAX_AGE_SECONDS", 60, minimum=1)
CELERY_TIMEZONE = "UTC"
TASK_MAX_RETRIES = env_int("TASK_MAX_RETRIES", 3)
# A step failing on a transient error is tried again after base, 2 x base, 4 x base ... seconds.
TASK_RETRY_BASE_SECONDS = env_float("TASK_RETRY_BASE_SECONDS", 1.0)
# A worker running an execution renews its lease every quarter of this; an execution whose lease ran
# out (queued or running) is checked by the recovery sweep every EXECUTION_RECOVERY_SECONDS and sent
# to a worker again if nobody holds it (execution.leases). Runs interrupted this many times fail.
EXECUTION_LEASE_SECONDS = env_int("EXECUTION_LEASE_SECONDS", 60, minimum=4)
EXECUTION_RECOVERY_SECONDS = env_int("EXECUTION_RECOVERY_SECONDS", 60, minimum=1)
EXECUTION_MAX_INTERRUPTIONS = env_int("EXECUTION_MAX_INTERRUPTIONS", 5, minimum=1)
# Threads a worker process runs the steps of all its executions on (each holds a database connection
# only while it has steps to run); one execution runs at most 4 steps at once.
EXECUTION_STEP_THREADS = env_int("EXECUTION_STEP_THREADS", 32, minimum=1)
# A cancelled execution still running this long after the cancel is terminated (revoke terminate=True).
CANCEL_GRACE_SECONDS = env_int("CANCEL_GRACE_SECONDS", 30)
# How long the task metrics wait for workers to answer a ping.
WORKER_PING_TIMEOUT = env_float("WORKER_PING_TIMEOUT", 0.5)
# Seconds between queue metrics pushed to an open ws/monitor/ socket.
MONITOR_METRICS_SECONDS = env_int("MONITOR_METRICS_SECONDS", 5)
# A websocket client gets at most one batch of progress events per this many seconds; within it, a
# step's latest event replaces its earlier ones (execution.consumers.Outbox).
PROGRESS_COALESCE_SECONDS = env_float("PROGRESS_COALESCE_SECONDS", 0.05)
EXECUTION_RETENTION_DAYS = env_int("EXECUTION_RETENTION_DAYS", 90)

if REDIS_URL:
    # Pub/sub: a group's event reaches each web process once, which hands it to its own consumers in
    # memory, instead of one Redis list entry (and one round trip) per consumer.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": f"{REDIS_KEY_PREFIX}asgi"},
        }
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- REST framework -------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "tradingweb.pagination.KeysetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_RATES": {
        "execute": os.environ.get("THROTTLE_EXECUTE", "60/min"),
        "orders": os.environ.get("THROTTLE_ORDERS", "60/min"),
    },
    "EXCEPTION_HANDLER": "tradingweb.api.exception_handler",
}
# API tokens (django-rest-knox): stored as SHA-512 hashes, shown once when issued, expiring
# API_TOKEN_TTL_DAYS after issue (0: never), revoked by rotation, DELETE /api/auth/me/token/ or the admin.
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 90, minimum=0)
REST_KNOX = {
    "TOKEN_TTL": timedelta(days=API_TOKEN_TTL_DAYS) if API_TOKEN_TTL_DAYS > 0 else None,
    "AUTH_HEADER_PREFIX": "Token",  # programs keep sending "Authorization: Token <key>"
}
SPECTACULAR_SETTINGS = {
    "TITLE": "tradingweb API",
    "DESCRIPTION": "AI trading workflows for Interactive Brokers: workflows, executions, decisions, orders, portfolio.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs pages load Swagger UI and Redoc from the project's own build (npm), never a CDN.
    "SWAGGER_UI_DIST": f"/{STATIC_URL.strip('/')}/build/swagger-ui",
    "SWAGGER_UI_FAVICON_HREF": f"/{STATIC_URL.strip('/')}/build/swagger-ui/favicon-32x32.png",
    "REDOC_DIST": f"/{STATIC_URL.strip('/')}/build/redoc",
}

# --- Broker -----------------------------------------------------------------
BROKER_ADAPTER = os.environ.get("BROKER_ADAPTER", "simulated")  # simulated | ibkr
TRADING_MODE = os.environ.get("TRADING_MODE", "paper")  # paper | live
SIMULATED_SEED = env_int("SIMULATED_SEED", 42)
SIMULATED_STARTING_CASH = Decimal(os.environ.get("SIMULATED_STARTING_CASH", "100000"))
SIMULATED_COMMISSION_PER_SHARE = Decimal(os.environ.get("SIMULATED_COMMISSION_PER_SHARE", "0.005"))
IBKR_HOST = os.environ.get("IBKR_HOST", "127.0.0.1")
IBKR_PORT = env_int("IBKR_PORT", 4002)  # IB Gateway paper port
IBKR_CLIENT_ID = env_int("IBKR_CLIENT_ID", 1)
IBKR_ACCOUNT = os.environ.get("IBKR_ACCOUNT", "")
IBKR_READONLY = env_bool("IBKR_READONLY", False)
IBKR_TIMEOUT = env_float("IBKR_TIMEOUT", 10.0)
# Historical requests for bars over 30 s per 10 minutes, from all processes (0: no limit of ours;
# IBKR lifted its hard limits for them and only throttles softly).
IBKR_HISTORICAL_SOFT_LIMIT = env_int("IBKR_HISTORICAL_SOFT_LIMIT", 3000, minimum=0)
# reqMarketDataType: live needs a market data subscription; delayed is 15-20 minutes old but free.
IBKR_MARKET_DATA_TYPE = env_choice("IBKR_MARKET_DATA_TYPE", "live", ("live", "frozen", "delayed", "delayed_frozen"))
# How long a worker may hold a broker lock shared by all workers (an order's submission, a bars
# download); one that dies holding it keeps the others waiting on that order or those bars that long.
BROKER_LOCK_SECONDS = env_int("BROKER_LOCK_SECONDS", 120)
CHART_WIDTH = env_int("CHART_WIDTH", 1920)
CHART_HEIGHT = env_int("CHART_HEIGHT", 1080)

# --- AI ---------------------------------------------------------------------
LLM_BASE_URL = os.environ.get("LLM_BASE_URL", "https://api.openai.com/v1")
LLM_API_KEY = os.environ.get("LLM_API_KEY", "")
LLM_MODEL = os.environ.get("LLM_MODEL", "gpt-4o")
LLM_TIMEOUT = env_float("LLM_TIMEOUT", 60.0)
# A model call that fails transiently (429, 5xx, timeout, connection) is retried after a random
# wait of up to base, 2 x base, 4 x base ... seconds (at most LLM_RETRY_MAX_DELAY_SECONDS), or after
# the provider's Retry-After, for as long as LLM_RETRY_BUDGET_SECONDS from its first failure: a
# provider refusing for a minute or two slows a run down but fails none.
LLM_RETRY_BASE_SECONDS = env_float("LLM_RETRY_BASE_SECONDS", 1.0)
LLM_RETRY_MAX_DELAY_SECONDS = env_float("LLM_RETRY_MAX_DELAY_SECONDS", 30.0)
LLM_RETRY_BUDGET_SECONDS = env_float("LLM_RETRY_BUDGET_SECONDS", 180.0)
# The default provider's limits, kept by all processes together through Redis (0: no limit); staff
# set the same per provider in the admin. A call waits for capacity for at most LLM_LIMIT_WAIT_SECONDS.
LLM_MAX_IN_FLIGHT = env_int("LLM_MAX_IN_FLIGHT", 0, minimum=0)
LLM_REQUESTS_PER_MINUTE = env_int("LLM_REQUESTS_PER_MINUTE", 0, minimum=0)
LLM_TOKENS_PER_MINUTE = env_int("LLM_TOKENS_PER_MINUTE", 0, minimum=0)
LLM_LIMIT_WAIT_SECONDS = env_float("LLM_LIMIT_WAIT_SECONDS", 600.0)
# The offline analyst answers whenever no API key is configured.
LLM_PROVIDER = os.environ.get("LLM_PROVIDER") or ("openai" if LLM_API_KEY else "offline")
OFFLINE_MODEL_NAME = "offline-analyst"
# What checks the model names of a workflow going live: the agents' providers (workflows may not import agents).
WORKFLOW_MODEL_CHECK = "agents.providers.offered_model_problem"
# The default model provider's name, as traders pick it (staff add more in the admin).
LLM_PROVIDER_NAME = os.environ.get("LLM_PROVIDER_NAME", "default")
# USD per 1M (input, output) tokens of the default provider's models; staff add and override
# prices in the admin. A model without a price costs "unknown", and a budgeted strategy refuses it.
LLM_PRICES = {
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
}
# The models traders may pick on the default provider (comma-separated); default: LLM_MODEL and the priced ones.
LLM_MODELS = [
    name.strip()
    for name in (os.environ.get("LLM_MODELS") or ",".join(dict.fromkeys([LLM_MODEL, *LLM_PRICES]))).split(",")
    if name.strip()
]
# Agent tools' data providers: dotted paths of callables (symbol) -> dict; empty = "no data".
AGENT_FUNDAMENTALS_PROVIDER = os.environ.get("AGENT_FUNDAMENTALS_PROVIDER", "")
AGENT_NEWS_PROVIDER = os.environ.get("AGENT_NEWS_PROVIDER", "")
APPROVAL_TIMEOUT_SECONDS = env_int("APPROVAL_TIMEOUT_SECONDS", 300)
APPROVAL_MAX_PRICE_MOVE_PCT = env_float("APPROVAL_MAX_PRICE_MOVE_PCT", 2.0)
SANDBOX_TIMEOUT_SECONDS = env_int("SANDBOX_TIMEOUT_SECONDS", 10)
SANDBOX_MEMORY_MB = env_int("SANDBOX_MEMORY_MB", 512)
# Untrusted code runs under bubblewrap; without it (or without user namespaces) it does not run at all.
SANDBOX_BWRAP_PATH = os.environ.get("SANDBOX_BWRAP_PATH") or "/usr/bin/bwrap"
# Staff only, for a single-user machine: run untrusted code WITHOUT operating-system isolation.
if os.environ.get("SANDBOX_UNISOLATED", "").strip().lower() not in {"", "0", "1", "false", "true", "no", "yes"}:
    raise ImproperlyConfigured(f"SANDBOX_UNISOLATED must be 1 or 0, not {os.environ['SANDBOX_UNISOLATED']!r}")
SANDBOX_UNISOLATED = env_bool("SANDBOX_UNISOLATED")
# The sandbox service's Unix socket (compose: the `sandbox` container); empty: this process starts bubblewrap itself.
SANDBOX_SOCKET = os.environ.get("SANDBOX_SOCKET", "").strip()
if SANDBOX_SOCKET and not (SANDBOX_SOCKET.startswith("/") and len(SANDBOX_SOCKET.encode()) <= 107):
    raise ImproperlyConfigured(f"SANDBOX_SOCKET must be an absolute path of at most 107 bytes, not {SANDBOX_SOCKET!r}")
# The sandbox service's bounds: sandboxes running at once, and requests waiting for one of them (more: "busy").
SANDBOX_MAX_CONCURRENT = env_int("SANDBOX_MAX_CONCURRENT", os.cpu_count() or 1, minimum=1)
SANDBOX_MAX_WAITING = env_int("SANDBOX_MAX_WAITING", 2 * SANDBOX_MAX_CONCURRENT, minimum=0)

# --- Mail and notifications ---------------------------------------------------
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "tradingweb@localhost")
# Email and webhook deliveries: attempts per delivery, waiting base, 2 x base ... seconds between them.
NOTIFICATION_ATTEMPTS = env_int("NOTIFICATION_ATTEMPTS", 3)
NOTIFICATION_RETRY_BASE_SECONDS = env_float("NOTIFICATION_RETRY_BASE_SECONDS", 1.0)
NOTIFICATION_WEBHOOK_TIMEOUT = env_float("NOTIFICATION_WEBHOOK_TIMEOUT", 10.0)
# Hosts and networks a user's URL (a webhook) may reach although they are not public, e.g. "hooks.internal,10.0.5.0/24".
OUTBOUND_ALLOWED = env_list("OUTBOUND_ALLOWED")
parse_allowed(OUTBOUND_ALLOWED)  # a bad entry stops start-up here, not the first delivery

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # AutoGen logs every message payload at INFO; the conversation is stored as AgentMessage rows.
        "autogen_core": {"level": "WARNING"},
        "autogen_agentchat": {"level": "WARNING"},
    },
}
