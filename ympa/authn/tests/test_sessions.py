"""Sessions: method and assurance of each login, idle and absolute timeouts, re-authentication before
sensitive actions, and the append-only login trail."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
import time_machine
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD, TOTP_SECRET, make_staff
from ympa.authn.assurance import REAUTH_VIEWS, SESSION_KEY, Assurance, LoginMethod, session_assurance
from ympa.authn.models import AuthEvent, AuthEventKind, User
from ympa.notify.sms_simulator import SmsSimulator
from ympa.orgs.models import Assignment, CareUnit
from ympa.orgs.rights import Role

pytestmark = pytest.mark.django_db
Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
PHONE = "+46701234567"
STAFF_FORM = {"username": "ny_person", "first_name": "Ny", "last_name": "Person", "role": "nurse"}


@pytest.fixture
def admin_a(unit_a: CareUnit) -> User:
    return make_staff("admin_a", Role.ADMINISTRATOR, unit=unit_a)


def english_client() -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def totp(moment: datetime) -> str:
    return pyotp.TOTP(TOTP_SECRET).at(moment)


def totp_login(client: Client, user: User, moment: datetime) -> None:
    """Log in with password and TOTP at `moment` (time must be frozen there)."""
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert client.post("/login/code/", {"code": totp(moment)}).status_code == 302


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def events(kind: AuthEventKind) -> list[AuthEvent]:
    return list(AuthEvent.objects.filter(kind=kind).order_by("occurred_at", "pk"))


# Login: method, assurance and the trail.


def test_totp_login_stores_method_and_assurance_and_a_new_session_key(nurse_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False):
        client.post("/login/", {"username": "nurse_a", "password": PASSWORD})
        before = client.session.session_key
        client.post("/login/code/", {"code": totp(NOW)}, HTTP_USER_AGENT="Firefox " + "x" * 300)
        response = client.get("/")
    assert client.session.session_key != before
    state = client.session[SESSION_KEY]
    assert state["method"] == LoginMethod.PASSWORD_TOTP and state["assurance"] == Assurance.LOW
    assert state["login_at"] == state["authenticated_at"] == NOW.timestamp()
    assert session_assurance(response.wsgi_request) is Assurance.LOW
    [login] = events(AuthEventKind.LOGIN)
    assert (login.user, login.identity, login.method, login.assurance) == (
        nurse_a,
        "nurse_a",
        "password_totp",
        1,
    )
    assert login.ip == "127.0.0.1" and login.user_agent.startswith("Firefox") and len(login.user_agent) == 200


def test_failures_and_logout_are_in_the_trail(nurse_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False):
        client.post("/login/", {"username": "nurse_a", "password": "not the password"})
        client.post("/login/", {"username": "nurse_a", "password": PASSWORD})
        client.post("/login/code/", {"code": "000000"})
        client.post("/login/code/", {"code": totp(NOW)})
        client.post("/logout/")
    assert not logged_in(client)
    trail = [(e.kind, e.detail) for e in AuthEvent.objects.order_by("pk")]
    assert trail == [
        (AuthEventKind.LOGIN_FAILED, "wrong_password"),
        (AuthEventKind.LOGIN_FAILED, "wrong_code"),
        (AuthEventKind.LOGIN, ""),
        (AuthEventKind.LOGOUT, ""),
    ]
    logout = events(AuthEventKind.LOGOUT)[0]
    assert (logout.user, logout.method, logout.assurance) == (nurse_a, "password_totp", 1)
    # Never a password or a code.
    stored = [str(value) for row in AuthEvent.objects.values() for value in row.values()]
    assert not any(PASSWORD in value or "not the password" in value or totp(NOW) in value for value in stored)


def test_the_trail_refuses_updates() -> None:
    AuthEvent.objects.create(kind=AuthEventKind.LOGIN_FAILED, identity="someone", detail="wrong_password")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuthEvent.objects.update(identity="someone else")
    assert AuthEvent.objects.get().identity == "someone"
    if connection.vendor == "postgresql":
        with pytest.raises(IntegrityError), transaction.atomic():
            AuthEvent.objects.all().delete()
        assert AuthEvent.objects.count() == 1


def test_the_trail_guard_is_installed() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            expected = {"authn_authevent_append_only_update"}
        else:
            cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            expected = {"authn_authevent_append_only_update", "authn_authevent_append_only_delete"}
        installed = {row[0] for row in cursor.fetchall()}
    assert expected <= installed


def test_only_session_login_calls_djangos_login() -> None:
    """Every login path goes through session_login, so every session has a method, an assurance and clocks."""
    package = Path(__file__).resolve().parents[2]
    calls = re.compile(r"from django\.contrib\.auth import [^\n]*\blogin\b|\bauth\.login\(")
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if "tests" not in path.parts and path.name != "assurance.py" and calls.search(path.read_text())
    ]
    assert offenders == []


# Timeouts.


def test_idle_timeout_logs_out_with_a_message(nurse_a: User) -> None:
    client = english_client()
    with time_machine.travel(NOW, tick=False) as traveller:
        totp_login(client, nurse_a, NOW)
        for _ in range(3):
            traveller.shift(timedelta(minutes=19))
            assert client.get("/").status_code == 200
        traveller.shift(timedelta(minutes=20, seconds=1))
        response = client.get("/patients/?q=Tolvan")
        assert response.status_code == 302
        assert response["Location"] == "/login/?next=/patients/%3Fq%3DTolvan"
        assert not logged_in(client)
        page = client.get(response["Location"])
    assert b"You have been logged out after 20 minutes without activity." in page.content
    [timeout] = events(AuthEventKind.TIMEOUT)
    assert (timeout.user, timeout.detail, timeout.method, timeout.assurance) == (
        nurse_a,
        "idle",
        "password_totp",
        1,
    )


def test_absolute_timeout_however_active(nurse_a: User) -> None:
    assert settings.SESSION_ABSOLUTE_SECONDS == 10 * 3600 and settings.SESSION_IDLE_SECONDS == 20 * 60
    client = english_client()
    with time_machine.travel(NOW, tick=False) as traveller:
        totp_login(client, nurse_a, NOW)
        for _ in range(40):
            traveller.shift(timedelta(minutes=15))
            assert client.get("/").status_code == 200
        traveller.shift(timedelta(seconds=1))
        response = client.get("/", follow=True)
    assert response.redirect_chain[0] == ("/login/?next=/", 302)
    assert b"You have been logged out because 10 hours have passed since you logged in." in response.content
    assert not logged_in(client)
    assert events(AuthEventKind.TIMEOUT)[0].detail == "absolute"


def test_timeouts_follow_the_settings(nurse_a: User, settings: Any) -> None:
    settings.SESSION_IDLE_SECONDS = 5 * 60
    client = Client()
    with time_machine.travel(NOW, tick=False) as traveller:
        totp_login(client, nurse_a, NOW)
        traveller.shift(timedelta(minutes=5, seconds=1))
        assert client.get("/").status_code == 302
    assert not logged_in(client)


def test_polling_does_not_keep_the_session_alive(nurse_a: User) -> None:
    polling, working = Client(), Client()
    with time_machine.travel(NOW, tick=False) as traveller:
        totp_login(polling, nurse_a, NOW)
        traveller.shift(timedelta(seconds=30))
        totp_login(working, nurse_a, NOW + timedelta(seconds=30))
        traveller.shift(timedelta(minutes=15))
        assert polling.get("/", HTTP_X_YMPA_POLL="1").status_code == 200
        assert working.get("/").status_code == 200
        traveller.shift(timedelta(minutes=6))
        # 21 minutes after the last real activity: the poll did not count.
        assert polling.get("/", HTTP_X_YMPA_POLL="1").status_code == 302
        assert working.get("/").status_code == 200
    assert not logged_in(polling) and logged_in(working)


def test_htmx_requests_are_sent_to_the_login_page_with_hx_redirect(nurse_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False) as traveller:
        totp_login(client, nurse_a, NOW)
        traveller.shift(timedelta(minutes=21))
        response = client.get(
            "/patients/?q=To",
            HTTP_HX_REQUEST="true",
            HTTP_HX_CURRENT_URL="http://testserver/patients/",
        )
    assert response.status_code == 200 and response.content == b""
    assert response["HX-Redirect"] == "/login/?next=http%3A//testserver/patients/"
    assert not logged_in(client)


# Re-authentication.


def test_staff_administration_needs_a_recent_login_and_totp_renews_it(admin_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False) as traveller:
        totp_login(client, admin_a, NOW)
        assert client.get("/unit/staff/").status_code == 200
        traveller.shift(timedelta(minutes=5, seconds=1))
        stale = client.get("/unit/staff/")
        assert stale.status_code == 302 and stale["Location"] == "/reauth/?next=%2Funit%2Fstaff%2F"
        refused = client.post("/unit/staff/", STAFF_FORM, HTTP_REFERER="http://testserver/unit/staff/")
        assert refused["Location"] == "/reauth/?next=http%3A%2F%2Ftestserver%2Funit%2Fstaff%2F"
        assert not User.objects.filter(username="ny_person").exists()
        page = client.get(stale["Location"])
        assert page.status_code == 200 and b'autocomplete="one-time-code"' in page.content
        response = client.post("/reauth/", {"code": totp(NOW + timedelta(minutes=5)), "next": "/unit/staff/"})
        assert response.status_code == 302 and response["Location"] == "/unit/staff/"
        assert client.post("/unit/staff/", STAFF_FORM).status_code == 302
    assert User.objects.filter(username="ny_person").exists()
    [reauth] = events(AuthEventKind.REAUTH)
    assert (reauth.user, reauth.method, reauth.assurance) == (admin_a, "password_totp", 1)
    # Re-authentication renews the proof, not the session's age.
    assert client.session[SESSION_KEY]["login_at"] == NOW.timestamp()


def test_ending_an_assignment_needs_a_recent_login(admin_a: User, nurse_a: User) -> None:
    assignment = nurse_a.assignments.get()
    client = Client()
    with time_machine.travel(NOW, tick=False) as traveller:
        totp_login(client, admin_a, NOW)
        traveller.shift(timedelta(minutes=10))
        response = client.post(f"/unit/staff/{assignment.pk}/end/")
    assert response.status_code == 302 and response["Location"].startswith("/reauth/?next=")
    assert Assignment.objects.get(pk=assignment.pk).valid_until is None


def test_a_missing_right_is_refused_before_asking_to_reauthenticate(nurse_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False) as traveller:
        totp_login(client, nurse_a, NOW)
        traveller.shift(timedelta(minutes=10))
        assert client.get("/unit/staff/").status_code == 403


def test_htmx_reauthentication_uses_hx_redirect(admin_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False) as traveller:
        totp_login(client, admin_a, NOW)
        traveller.shift(timedelta(minutes=10))
        response = client.get(
            "/unit/staff/", HTTP_HX_REQUEST="true", HTTP_HX_CURRENT_URL="http://testserver/unit/staff/"
        )
    assert response["HX-Redirect"] == "/reauth/?next=http%3A%2F%2Ftestserver%2Funit%2Fstaff%2F"


def test_wrong_reauthentication_codes_end_the_session(admin_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False) as traveller:
        totp_login(client, admin_a, NOW)
        traveller.shift(timedelta(minutes=10))
        for _ in range(4):
            assert client.post("/reauth/", {"code": "000000", "next": "/unit/staff/"}).status_code == 200
        response = client.post("/reauth/", {"code": "000000", "next": "/unit/staff/"})
        assert response["Location"] == "/login/"
        assert client.get("/unit/staff/").status_code == 302
    assert not logged_in(client)
    assert len(events(AuthEventKind.REAUTH_FAILED)) == 5 and not events(AuthEventKind.REAUTH)
    assert events(AuthEventKind.LOGOUT)[0].detail == "reauth_failed"


def test_after_an_sms_login_reauthentication_asks_for_password_and_a_new_sms_code(
    admin_a: User, sms_simulator: SmsSimulator, django_capture_on_commit_callbacks: Capture
) -> None:
    User.objects.filter(pk=admin_a.pk).update(phone=PHONE)
    client = english_client()
    with time_machine.travel(NOW, tick=False) as traveller:
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/login/sms/", {"phone": PHONE, "password": PASSWORD})
        code = re.search(r"\d{6}", sms_simulator.messages[0].message).group()  # type: ignore[union-attr]
        client.post("/login/sms/code/", {"code": code})
        traveller.shift(timedelta(minutes=6))
        page = client.get("/reauth/?next=/unit/staff/")
        assert b'name="password"' in page.content and b"one-time-code" not in page.content
        wrong = client.post("/reauth/", {"password": "nope", "next": "/unit/staff/"})
        assert wrong.status_code == 200 and len(sms_simulator.messages) == 1
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/reauth/", {"password": PASSWORD, "next": "/unit/staff/"})
        assert response["Location"] == "/reauth/sms/"
        [_login, second] = sms_simulator.messages
        assert "confirming your identity in Ympa" in second.message
        # The login code is spent; only the new one works.
        assert client.post("/reauth/sms/", {"code": code}).status_code == 200
        response = client.post("/reauth/sms/", {"code": re.search(r"\d{6}", second.message).group()})  # type: ignore[union-attr]
        assert response["Location"] == "/unit/staff/"
        assert client.get("/unit/staff/").status_code == 200
    [reauth] = events(AuthEventKind.REAUTH)
    assert (reauth.method, reauth.assurance) == ("password_sms", 1)
    assert [e.detail for e in events(AuthEventKind.REAUTH_FAILED)] == ["wrong_password", "wrong_code"]


def _log_in_as_bankid(client: Client, user: User) -> None:
    """Stand-in for the BankID login, not built yet: a TOTP login whose session says BankID."""
    totp_login(client, user, NOW)
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "method": "bankid", "assurance": int(Assurance.HIGH)}
    session.save()


def test_bankid_without_a_reauth_view_offers_totp(admin_a: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(REAUTH_VIEWS, LoginMethod.BANKID)
    client = english_client()
    with time_machine.travel(NOW, tick=False) as traveller:
        _log_in_as_bankid(client, admin_a)
        traveller.shift(timedelta(minutes=10))
        page = client.get("/reauth/?next=/unit/staff/")
        assert page.status_code == 200
        assert b"You logged in with BankID" in page.content and b"not available in Ympa yet" in page.content
        assert b'href="/reauth/?with=totp&amp;next=/unit/staff/"' in page.content
        assert b'name="code"' not in page.content
        form = client.get("/reauth/?with=totp&next=/unit/staff/")
        assert b'name="code"' in form.content
        response = client.post(
            "/reauth/", {"with": "totp", "code": totp(NOW + timedelta(minutes=10)), "next": "/unit/staff/"}
        )
        assert response["Location"] == "/unit/staff/"
        assert client.get("/unit/staff/").status_code == 200
    assert session_assurance(page.wsgi_request) is Assurance.HIGH
    assert events(AuthEventKind.REAUTH)[0].method == "password_totp"


def test_bankid_without_totp_can_only_log_in_again(admin_a: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(REAUTH_VIEWS, LoginMethod.BANKID)
    client = english_client()
    with time_machine.travel(NOW, tick=False) as traveller:
        _log_in_as_bankid(client, admin_a)
        User.objects.filter(pk=admin_a.pk).update(totp_secret="")
        traveller.shift(timedelta(minutes=10))
        page = client.get("/reauth/?next=/unit/staff/")
        # Asking for TOTP anyway changes nothing.
        fallback = client.post("/reauth/", {"with": "totp", "code": "000000", "next": "/unit/staff/"})
        assert client.get("/unit/staff/").status_code == 302
    assert b"with=totp" not in page.content and b"Log out and log in again" in page.content
    assert b"with=totp" not in fallback.content and not events(AuthEventKind.REAUTH_FAILED)


def test_bankid_and_siths_sessions_reauthenticate_with_their_own_method(admin_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False) as traveller:
        _log_in_as_bankid(client, admin_a)
        traveller.shift(timedelta(minutes=10))
        response = client.get("/reauth/?next=/unit/staff/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("authn:bankid_reauth"))
    assert REAUTH_VIEWS[LoginMethod.SITHS] == "authn:siths_reauth"


def test_a_registered_reauth_view_takes_over(admin_a: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(REAUTH_VIEWS, LoginMethod.BANKID, "authn:assignment")
    client = Client()
    with time_machine.travel(NOW, tick=False):
        _log_in_as_bankid(client, admin_a)
        response = client.get("/reauth/?next=/unit/staff/")
    assert response.status_code == 302 and response["Location"] == "/assignment/?next=%2Funit%2Fstaff%2F"


def test_reauth_next_stays_on_this_site(admin_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False) as traveller:
        totp_login(client, admin_a, NOW)
        traveller.shift(timedelta(minutes=10))
        response = client.post(
            "/reauth/", {"code": totp(NOW + timedelta(minutes=10)), "next": "https://evil.example/"}
        )
    assert response["Location"] == "/"
