"""The written-out session read answers as Django's database sessions do."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from ympa.authn.session_store import SessionStore


@pytest.mark.django_db
def test_a_saved_session_loads_and_an_expired_or_unknown_one_is_empty() -> None:
    store = SessionStore()
    store["answer"] = 42
    store.save()
    key = store.session_key
    assert key is not None
    assert SessionStore(key)["answer"] == 42

    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    expired = SessionStore(key)
    assert expired.load() == {} and expired.session_key is None

    unknown = SessionStore("x" * 32)
    assert unknown.load() == {} and unknown.session_key is None
