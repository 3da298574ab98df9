"""Ympa's Django settings. Every deployment choice comes from an environment variable (see README)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils.csp import CSP

from ympa.core.env import (
    ConfigError,
    database_from_url,
    env_bool,
    env_int,
    env_list,
    env_str,
    sqlite_settings,
)

BASE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(env_str("YMPA_DATA_DIR", str(BASE_DIR.parent / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("YMPA_DEBUG", False)


def _secret_key() -> str:
    configured = env_str("YMPA_SECRET_KEY")
    if configured:
        return configured
    # A single-machine install keeps a generated key beside its data, so sessions survive restarts
    # without anyone having to invent a key; production sets YMPA_SECRET_KEY.
    key_file = DATA_DIR / "secret.key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
# The key of the access log's row MACs and anchors (ympa.access.chain); it must never change, or the log no
# longer verifies. The default is the secret key (keys are derived from it), so set it on its own wherever
# the secret key may be rotated.
AUDIT_LOG_KEY = env_str("YMPA_AUDIT_LOG_KEY") or SECRET_KEY
ALLOWED_HOSTS = env_list("YMPA_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("YMPA_CSRF_TRUSTED_ORIGINS", [])
PUBLIC_URL = env_str("YMPA_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")

# HTTPS hardening is on unless explicitly switched off (only the loopback demo and tests do that).
HTTPS = env_bool("YMPA_HTTPS", True)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = HTTPS and env_bool("YMPA_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = env_int("YMPA_HSTS_SECONDS", 31536000) if HTTPS else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = HTTPS
SECURE_HSTS_PRELOAD = HTTPS and env_bool("YMPA_HSTS_PRELOAD", True)
if env_bool("YMPA_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_ENGINE = "ympa.authn.session_store"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = env_int("YMPA_SESSION_SECONDS", 8 * 3600)
# A staff session ends after this long without activity, and this long after its login whatever happens
# (ympa.authn.middleware.SessionTimeoutMiddleware; requests with `X-Ympa-Poll: 1` are not activity).
SESSION_IDLE_SECONDS = env_int("YMPA_SESSION_IDLE_MINUTES", 20) * 60
SESSION_ABSOLUTE_SECONDS = env_int("YMPA_SESSION_MAX_HOURS", 10) * 3600
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "ympa.core",
    "ympa.orgs",
    "ympa.authn",
    "ympa.patients",
    "ympa.catalog",
    "ympa.access",
    "ympa.journal",
    "ympa.notify",
    "ympa.citizen",
    "ympa.reporting",
    "ympa.inventory",
    "ympa.booking",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "ympa.core.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "ympa.authn.middleware.StaffSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "ympa.authn.middleware.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "ympa.core.middleware.ServiceErrorMiddleware",
]

ROOT_URLCONF = "ympa.urls"
WSGI_APPLICATION = "ympa.wsgi.application"

TEMPLATES: list[dict[str, Any]] = [
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
                "ympa.authn.context_processors.staff_context",
            ],
        },
    }
]

_database_url = env_str("DATABASE_URL")
try:
    DATABASES = {
        "default": database_from_url(_database_url, data_dir=DATA_DIR)
        if _database_url
        else sqlite_settings(DATA_DIR / "ympa.sqlite3")
    }
except ConfigError as exc:
    raise SystemExit(f"Configuration error: {exc}") from exc
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "authn.User"
LOGIN_URL = "authn:login"
LOGIN_REDIRECT_URL = "journal:home"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", "Svenska"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("YMPA_MAX_UPLOAD_BYTES", 2 * 1024 * 1024)

# Background tasks: django.tasks on huey. YMPA_TASKS_URL is sqlite:///path (default, a file beside the
# database), redis://host:port/db (several workers), or "immediate" (run inline; tests).
TASKS = {"default": {"BACKEND": "huey.contrib.djhuey.tasks_backend.HueyBackend"}}
_tasks_url = env_str("YMPA_TASKS_URL", f"sqlite:///{DATA_DIR / 'tasks.sqlite3'}")
HUEY: dict[str, Any]
if _tasks_url == "immediate":
    HUEY = {"name": "ympa", "immediate": True}
elif _tasks_url.startswith(("redis://", "rediss://", "unix://")):
    HUEY = {"name": "ympa", "huey_class": "huey.RedisHuey", "url": _tasks_url, "immediate": False}
elif _tasks_url.startswith("sqlite:///"):
    HUEY = {
        "name": "ympa",
        "huey_class": "huey.SqliteHuey",
        "filename": _tasks_url.removeprefix("sqlite:///"),
        "immediate": False,
    }
else:
    raise SystemExit(
        f"Configuration error: YMPA_TASKS_URL={_tasks_url!r} (use sqlite:///, redis:// or immediate)"
    )
HUEY["consumer"] = {"workers": env_int("YMPA_WORKER_THREADS", 2), "worker_type": "thread"}
# How long the queue keeps the record of a finished task (ympa.core.task_results).
TASK_RESULTS_KEEP = timedelta(days=env_int("YMPA_TASK_RESULTS_DAYS", 7))

# E-mail through Django's own mail backends: SMTP when a host is configured, otherwise files under var/mail
# (YMPA_EMAIL_BACKEND=console prints them instead).
_email_backend = env_str("YMPA_EMAIL_BACKEND", "smtp" if env_str("YMPA_SMTP_HOST") else "file")
_EMAIL_BACKENDS: dict[str, dict[str, Any]] = {
    "smtp": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": env_str("YMPA_SMTP_HOST", "localhost"),
            "port": env_int("YMPA_SMTP_PORT", 587),
            "username": env_str("YMPA_SMTP_USER"),
            "password": env_str("YMPA_SMTP_PASSWORD"),
            "use_tls": env_bool("YMPA_SMTP_STARTTLS", True),
            "timeout": 20,
        },
    },
    "file": {
        "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "OPTIONS": {"file_path": str(DATA_DIR / "mail")},
    },
    "console": {"BACKEND": "django.core.mail.backends.console.EmailBackend"},
    "locmem": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"},
}
if _email_backend not in _EMAIL_BACKENDS:
    raise SystemExit(f"Configuration error: YMPA_EMAIL_BACKEND={_email_backend!r} (smtp, file or console)")
MAILERS = {"default": _EMAIL_BACKENDS[_email_backend]}
DEFAULT_FROM_EMAIL = env_str("YMPA_EMAIL_FROM", "Ympa <noreply@localhost>")

# Public booking pages keep the appointment type and a week's free times this many seconds in each app
# process's memory, so a booking surge does not ask the database the same question hundreds of times a second
# (booking itself always claims the slot in the database). 0 turns it off.
BOOKING_PUBLIC_CACHE_SECONDS = env_int("YMPA_BOOKING_CACHE_SECONDS", 1)

# SMS through 46elks; the default points at the local simulator (`ympa simulate sms`).
SMS = {
    "BASE_URL": env_str("YMPA_SMS_URL", "http://127.0.0.1:8025/a1"),
    "USERNAME": env_str("YMPA_SMS_USERNAME", "ympa"),
    "PASSWORD": env_str("YMPA_SMS_PASSWORD", "simulator"),
    "SENDER": env_str("YMPA_SMS_SENDER", "Ympa"),
    "CALLBACK_SECRET": env_str("YMPA_SMS_CALLBACK_SECRET", SECRET_KEY[:32]),
}

# BankID (Relying Party API v6.0): "simulator" (`ympa simulate bankid`, the default), "test" (BankID's public
# test service; needs its test RP certificate) or "production". The simulator writes its test PKI under
# DATA_DIR/bankid-simulator, where the default certificate paths point.
_bankid_environment = env_str("YMPA_BANKID", "simulator")
_bankid_urls = {
    "simulator": "https://127.0.0.1:8030/rp/v6.0",
    "test": "https://appapi2.test.bankid.com/rp/v6.0",
    "production": "https://appapi2.bankid.com/rp/v6.0",
}
if _bankid_environment not in _bankid_urls:
    raise SystemExit(
        f"Configuration error: YMPA_BANKID={_bankid_environment!r} (simulator, test or production)"
    )
_bankid_pki = DATA_DIR / "bankid-simulator"
BANKID: dict[str, str] = {
    "ENVIRONMENT": _bankid_environment,
    "URL": env_str("YMPA_BANKID_URL", _bankid_urls[_bankid_environment]),
    "CERT_FILE": env_str("YMPA_BANKID_CERT_FILE", str(_bankid_pki / "rp-client.pem")),
    "KEY_FILE": env_str("YMPA_BANKID_KEY_FILE", str(_bankid_pki / "rp-client-key.pem")),
    "KEY_PASSWORD": env_str("YMPA_BANKID_KEY_PASSWORD"),
    "CA_FILE": env_str("YMPA_BANKID_CA_FILE", str(_bankid_pki / "server-ca.pem")),
    "SIMULATOR_PKI_DIR": str(_bankid_pki),
    "SIMULATOR_USER_URL": env_str("YMPA_BANKID_SIMULATOR_USER_URL", "http://127.0.0.1:8031"),
}

# SITHS staff login through an OpenID Connect identity provider; the default is the local test IdP
# (`ympa simulate idp`), whose client id and secret below are its defaults too.
SITHS: dict[str, str] = {
    "ISSUER": env_str("YMPA_SITHS_ISSUER", "http://127.0.0.1:8040"),
    "CLIENT_ID": env_str("YMPA_SITHS_CLIENT_ID", "ympa"),
    "CLIENT_SECRET": env_str("YMPA_SITHS_CLIENT_SECRET", "ympa-test-idp-secret"),
    "CA_FILE": env_str("YMPA_SITHS_CA_FILE"),
    "IDP_KEY_FILE": str(DATA_DIR / "idp-simulator" / "signing-key.pem"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("YMPA_LOG_LEVEL", "INFO")},
    # The huey consumer attaches its own handler; without this its lines would print twice.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "huey": {"propagate": False},
        # WeasyPrint and fontTools tell every step of every PDF at INFO.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
