"""Test settings: the real settings with fast hashing, immediate tasks and in-memory mail."""

import os
import tempfile

os.environ.setdefault("YMPA_DATA_DIR", tempfile.mkdtemp(prefix="ympa-test-"))
os.environ.setdefault("YMPA_HTTPS", "0")
os.environ["YMPA_TASKS_URL"] = "immediate"

from ympa.settings import *  # noqa: F403
from ympa.settings import STORAGES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
WHITENOISE_AUTOREFRESH = True
LANGUAGE_CODE = "sv"
# Tests read their own writes at once.
BOOKING_PUBLIC_CACHE_SECONDS = 0
# The suite's SQLite database is in memory, one per test process (pytest-django names a per-process file
# only for Django's own SQLite engine string, and ours is a subclass of it: ympa.core.sqlite).
for _database in DATABASES.values():  # noqa: F405
    if _database["ENGINE"] == "ympa.core.sqlite":
        _database.setdefault("TEST", {})["NAME"] = ":memory:"
