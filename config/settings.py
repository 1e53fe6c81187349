"""One env-driven settings module (django-environ).

Every variable is listed, with its meaning, in `.env.example`. Values are read once, here; nothing
else in the project reads the environment. Bad values fail at start-up with a message that names
the variable, never with a silent default.
"""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DEBUG", default=False)


def _folder(name: str, default: Path) -> Path:
    """A folder named by the environment. Unset or empty (.env.example lists them empty) means
    the default: an empty value must never become the working directory."""
    return Path(env.str(name, default="") or default).resolve()


# Where the application keeps its own files: the SQLite database, development keys, the
# published MARC files of every job and imported uploads.
DATA_DIR = _folder("DATA_DIR", BASE_DIR / "var")
PUBLISH_DIR = _folder("PUBLISH_DIR", DATA_DIR / "published")
UPLOAD_DIR = _folder("UPLOAD_DIR", DATA_DIR / "uploads")


def _development_secret(name: str, make) -> str:
    """Read a development secret from DATA_DIR, creating it on first use.

    Only used with DEBUG on: a production deployment must pass its secrets explicitly.
    """
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / name
    if not path.exists():
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it in the environment or in .env (see .env.example); "
            "only DEBUG=true generates a development key by itself."
        )
    SECRET_KEY = _development_secret("secret_key", lambda: secrets.token_urlsafe(50))

# Fernet keys for secrets stored in the database (S/FTP passwords, private keys, passphrases).
# Comma-separated; the first key encrypts, all keys decrypt, so a new key can be put in front
# and `manage.py rotate_secrets` re-encrypts every stored secret with it.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
if not FIELD_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS is not set. Generate a key with `python -c 'from "
            "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`."
        )
    FIELD_ENCRYPTION_KEYS = [
        _development_secret("field_encryption_key", lambda: Fernet.generate_key().decode())
    ]
for _key in FIELD_ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key"
        ) from exc

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Reverse proxies (addresses or networks, e.g. 10.0.0.5,172.16.0.0/12) whose X-Forwarded-For
# header names the real client. Only those: a header from anyone else is ignored, since a client
# can write any address there. Empty: the connection's own address is the client.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _proxy in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"TRUSTED_PROXIES: {_proxy!r} is not an IP address or network"
        ) from exc

INSTALLED_APPS = [
    "config.apps.AlmaAdminConfig",  # django.contrib.admin with our AdminSite
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_q",
    "audit",
    "accounts",
    "jobs",
    "records",
    "ftp",
    "profiles",
    "datasync",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "accounts.sessions.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "config.middleware.SecurityHeadersMiddleware",
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
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The django-q2 ORM broker and the web server write to the same file: WAL lets readers go on
    # while one writer works, IMMEDIATE takes the write lock at BEGIN so two writers queue
    # instead of failing half-way with "database is locked", and the timeout is how long they queue.
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The institution's time zone: schedules fire and job times are shown in it (Alma's
# "institution Timezone parameter").
TIME_ZONE = env.str("TIME_ZONE", default="America/New_York")
USE_I18N = True
USE_TZ = True
# Dates and times as the pages write them ("2026-11-27 03:15"): config/formats/en/formats.py.
FORMAT_MODULE_PATH = ["config.formats"]

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = _folder("STATIC_ROOT", DATA_DIR / "static")

LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"

# Uploaded MARC files can be large; they are streamed to disk, never held in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
FILE_UPLOAD_TEMP_DIR = None

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# A staff session ends after this many minutes without activity, and this many hours after the
# log-in whatever happens (accounts.sessions).
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=30)
SESSION_LIFETIME_HOURS = env.int("SESSION_LIFETIME_HOURS", default=12)
if SESSION_IDLE_MINUTES < 1 or SESSION_LIFETIME_HOURS < 1:
    raise ImproperlyConfigured("SESSION_IDLE_MINUTES and SESSION_LIFETIME_HOURS must be 1 or more")
SESSION_COOKIE_AGE = SESSION_LIFETIME_HOURS * 3600
# Scripts only from our own static files (no inline code); style attributes are allowed (progress
# bars set their width), style elements are not. Sent on every response (config.middleware).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    # Production is served over HTTPS (usually TLS ends at a reverse proxy that sets
    # X-Forwarded-Proto). For a plain-HTTP trial set these three to false / 0 in .env.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Browsers remember for a year that this site is HTTPS only (0 turns HSTS off).
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # HSTS for sub-domains and browser preload lists bind the library's whole domain, a decision
    # for its web team, not for one application: off unless asked for, and not warned about.
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="alma-publishing@localhost")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)

# The 4-digit institution suffix that ends every MMS ID minted here (Alma: 99...<suffix>).
INSTITUTION_CODE = env.str("INSTITUTION_CODE", default="4701")
if not (len(INSTITUTION_CODE) == 4 and INSTITUTION_CODE.isdigit()):
    raise ImproperlyConfigured("INSTITUTION_CODE must be exactly four digits, e.g. 4701")

# Management tag given to records that arrive without one ("Export to WorldCat").
DEFAULT_EXPORT_TAG = env.str("DEFAULT_EXPORT_TAG", default="publish_bib")
if DEFAULT_EXPORT_TAG not in {"publish_bib", "holdings_only", "dont_publish"}:
    raise ImproperlyConfigured(
        "DEFAULT_EXPORT_TAG must be one of publish_bib, holdings_only, dont_publish"
    )

# A cache shared by every process on the machine (web, workers): django-q2 keeps its cluster
# heartbeats here, which is how the profile page knows whether a worker cluster is alive.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(DATA_DIR / "cache"),
    }
}

# django-q2. The ORM broker keeps delivery receipts (a task survives a killed worker); Redis is
# used when Q_REDIS_URL is set. `retry` must exceed `timeout`, or a long publishing job is handed
# out a second time while the first still runs. Missed slots are not caught up: the next
# Incremental covers everything that changed anyway.
Q_TIMEOUT = env.int("Q_TIMEOUT", default=4 * 3600)
Q_WORKERS = env.int("Q_WORKERS", default=2)
Q_CLUSTER = {
    "name": env.str("Q_CLUSTER_NAME", default="alma-publishing"),
    "workers": Q_WORKERS,
    "timeout": Q_TIMEOUT,
    "retry": Q_TIMEOUT + 1800,
    "max_attempts": 1,
    "catch_up": False,
    "save_limit": 1000,
    "ack_failures": True,
    # Tasks a cluster takes off the shared queue ahead of its free workers: no more than it
    # can run, so with several clusters (machines) jobs go to whichever has a free worker. A
    # cluster that dies gives them back within seconds on PostgreSQL (jobs/broker.py).
    "queue_limit": Q_WORKERS,
    "poll": 1,
    "time_zone": TIME_ZONE,
    "label": "Background tasks",
}
_q_redis = env.str("Q_REDIS_URL", default="")
if _q_redis:
    Q_CLUSTER["redis"] = _q_redis
else:
    Q_CLUSTER["orm"] = "default"
    # The ORM broker with the tasks a cluster has taken held by a lock: a cluster that dies
    # gives them back within seconds, not after `retry` (jobs/broker.py).
    Q_CLUSTER["broker_class"] = "jobs.broker.ORM"

# The emulated OCLC file exchange (`manage.py oclc_filex`): where it listens and keeps files.
# Its root is a folder of its own, outside DATA_DIR: nothing of the application (keys, database,
# uploads) is in or beside the tree the exchange serves, and `oclc_filex` refuses to start if it is.
OCLC_FILEX_HOST = env.str("OCLC_FILEX_HOST", default="127.0.0.1")
OCLC_FILEX_PORT = env.int("OCLC_FILEX_PORT", default=2222)
OCLC_FILEX_ROOT = _folder("OCLC_FILEX_ROOT", BASE_DIR / "var-oclc-filex")
# What one account's upload folders may hold at once (bytes; files and folders).
OCLC_FILEX_QUOTA_BYTES = env.int("OCLC_FILEX_QUOTA_BYTES", default=2 * 1024**3)
OCLC_FILEX_QUOTA_FILES = env.int("OCLC_FILEX_QUOTA_FILES", default=200)
if OCLC_FILEX_QUOTA_BYTES < 1 or OCLC_FILEX_QUOTA_FILES < 1:
    raise ImproperlyConfigured(
        "OCLC_FILEX_QUOTA_BYTES and OCLC_FILEX_QUOTA_FILES must be 1 or more"
    )
# Where this application serves the emulated OCLC APIs (token server, Metadata API): the demo
# profile's WorldCat Metadata API section points here.
OCLC_API_ROOT = env.str("OCLC_API_ROOT", default="http://127.0.0.1:8000/oclc")
# The emulated OCLC token server: how long an access token lasts (OCLC's: 1199 seconds).
OCLC_API_TOKEN_SECONDS = env.int("OCLC_API_TOKEN_SECONDS", default=1199)
# WorldCat Metadata API client: seconds to wait for OCLC (connect and read).
WORLDCAT_API_TIMEOUT = env.float("WORLDCAT_API_TIMEOUT", default=60.0)
# True: the client refuses any API address beyond this machine (the test suite sets it).
WORLDCAT_API_LOCAL_ONLY = env.bool("WORLDCAT_API_LOCAL_ONLY", default=False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # paramiko logs every packet at DEBUG; keep it quiet unless asked.
        "paramiko": {"level": "WARNING"},
        "asyncssh": {"level": "WARNING"},
        # httpx2 logs every request URL at INFO; the WorldCat client logs what matters itself.
        "httpx2": {"level": "WARNING"},
        "httpcore2": {"level": "WARNING"},
    },
}

# --- Serving in production: static files, the health probe, where logs go ---------------------
# The application serves its own static files (WhiteNoise), from STATIC_ROOT as filled by
# `manage.py collectstatic`: every name carries a hash of its content, so browsers may keep a
# file for a year and a new release can never be mixed with an old stylesheet, and gzip copies
# are made once, at collect time. With DEBUG on, files come straight from the source folders.
# WhiteNoise sits right after SecurityMiddleware, so static requests get the HTTPS redirect too;
# the health probe comes first of all (config/health.py says why).
MIDDLEWARE.insert(0, "config.health.HealthCheckMiddleware")
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# Logs go to stderr, always: stdout belongs to what a command prints (with --json, exactly one
# JSON document that a script parses whole).
LOGGING["handlers"]["console"]["stream"] = "ext://sys.stderr"
