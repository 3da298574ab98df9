"""Staff login by mobile number + password + SMS code, end to end through the 46elks simulator."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.test import Client

from conftest import PASSWORD, make_staff
from ympa.authn.assurance import SESSION_KEY, Assurance, LoginMethod
from ympa.authn.models import AuthEvent, AuthEventKind, OneTimeCodeChallenge, User
from ympa.authn.selectors import MAX_PASSWORD_FAILURES_PER_IDENTITY
from ympa.authn.services import MAX_SENDS_PER_IDENTITY
from ympa.identifiers import parse_phone_number
from ympa.notify.models import Message
from ympa.notify.sms_simulator import SmsSimulator
from ympa.orgs.models import CareUnit
from ympa.orgs.rights import Role

pytestmark = pytest.mark.django_db
Capture = Callable[..., AbstractContextManager[list[Callable[[], Any]]]]
NOW = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
PHONE = "+46701234567"


@pytest.fixture
def sms_nurse(nurse_a: User) -> User:
    User.objects.filter(pk=nurse_a.pk).update(phone=PHONE)
    nurse_a.refresh_from_db()
    return nurse_a


def english_client() -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    return client


def code_of(sms_text: str) -> str:
    found = re.search(r"\b(\d{6})\b", sms_text)
    assert found is not None
    return found.group(1)


def page(response: Any) -> bytes:
    """The page without its CSRF tokens, which differ on every render."""
    return re.sub(rb"[A-Za-z0-9]{64}", b"", response.content)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_login_pages_link_to_each_other() -> None:
    client = Client()
    assert b'href="/login/sms/"' in client.get("/login/").content
    assert b'href="/login/"' in client.get("/login/sms/").content
    # The link keeps where the user was going.
    assert b'href="/login/sms/?next=/patients/"' in client.get("/login/?next=/patients/").content


def test_number_password_then_sms_code_logs_in_with_low_assurance(
    sms_nurse: User, sms_simulator: SmsSimulator, django_capture_on_commit_callbacks: Capture
) -> None:
    client = english_client()
    with time_machine.travel(NOW, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/login/sms/", {"phone": "070-123 45 67", "password": PASSWORD})
        assert response.status_code == 302 and response["Location"] == "/login/sms/code/"
        # Not logged in before the code.
        assert not logged_in(client)
        assert client.get("/").status_code == 302
        [sms] = sms_simulator.messages
        assert sms.to == PHONE and "logging in to Ympa" in sms.message
        assert b"If the number and the password are right" in client.get("/login/sms/code/").content
        response = client.post("/login/sms/code/", {"code": code_of(sms.message)})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.session[SESSION_KEY]["method"] == LoginMethod.PASSWORD_SMS
    assert client.session[SESSION_KEY]["assurance"] == Assurance.LOW
    login = AuthEvent.objects.get(kind=AuthEventKind.LOGIN)
    assert (login.user, login.method, login.assurance) == (sms_nurse, "password_sms", Assurance.LOW)
    assert client.session["assignment_id"] == sms_nurse.assignments.get().pk


def test_the_code_works_once(
    sms_nurse: User, sms_simulator: SmsSimulator, django_capture_on_commit_callbacks: Capture
) -> None:
    first = Client()
    with time_machine.travel(NOW, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            first.post("/login/sms/", {"phone": PHONE, "password": PASSWORD})
        code = code_of(sms_simulator.messages[0].message)
        assert first.post("/login/sms/code/", {"code": code}).status_code == 302
        # Someone who saw the code and knows the password still gets no session: a new login sends a new code.
        second = Client()
        second.post("/login/sms/", {"phone": PHONE, "password": PASSWORD})
        response = second.post("/login/sms/code/", {"code": code})
    assert response.status_code == 200 and not logged_in(second)


@pytest.mark.parametrize(
    ("phone", "password", "detail"),
    [("0709876543", PASSWORD, "unknown_number"), (PHONE, "wrong password", "wrong_password")],
)
def test_unknown_number_and_wrong_password_send_nothing_and_answer_the_same(
    sms_nurse: User,
    sms_simulator: SmsSimulator,
    django_capture_on_commit_callbacks: Capture,
    phone: str,
    password: str,
    detail: str,
) -> None:
    real, other = Client(), Client()
    with time_machine.travel(NOW, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            real_answer = real.post("/login/sms/", {"phone": PHONE, "password": PASSWORD})
        assert len(sms_simulator.messages) == 1
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            answer = other.post("/login/sms/", {"phone": phone, "password": password})
        # The same answer as for a right number and password...
        assert (answer.status_code, answer["Location"]) == (real_answer.status_code, real_answer["Location"])
        assert page(other.get("/login/sms/code/")) == page(real.get("/login/sms/code/"))
        # ...but nothing was sent or stored.
        assert callbacks == []
        assert len(sms_simulator.messages) == 1
        assert Message.objects.count() == 1 and OneTimeCodeChallenge.objects.count() == 1
        # Every code is wrong, with the same answer as a wrong real code.
        wrong_real = real.post("/login/sms/code/", {"code": "000000"})
        wrong_other = other.post("/login/sms/code/", {"code": "000000"})
        assert wrong_other.status_code == wrong_real.status_code == 200
        assert page(wrong_other) == page(wrong_real)
    assert not logged_in(other) and not logged_in(real)
    failure = AuthEvent.objects.exclude(detail="wrong_code").get(kind=AuthEventKind.LOGIN_FAILED)
    assert failure.identity == parse_phone_number(phone).e164
    assert failure.detail == detail and failure.method == "password_sms"
    assert failure.user == (sms_nurse if detail == "wrong_password" else None)
    # The trail never holds the password.
    assert all(password not in str(value) for row in AuthEvent.objects.values() for value in row.values())


def test_a_malformed_number_is_a_field_error(sms_nurse: User) -> None:
    response = english_client().post("/login/sms/", {"phone": "12", "password": PASSWORD})
    assert response.status_code == 200 and b"invalid-feedback" in response.content
    assert not Message.objects.exists() and not OneTimeCodeChallenge.objects.exists()


def test_too_many_wrong_codes_restart_the_login(
    sms_nurse: User, sms_simulator: SmsSimulator, django_capture_on_commit_callbacks: Capture
) -> None:
    client = english_client()
    with time_machine.travel(NOW, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/login/sms/", {"phone": PHONE, "password": PASSWORD})
        code = code_of(sms_simulator.messages[0].message)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(4):
            assert client.post("/login/sms/code/", {"code": wrong}).status_code == 200
        response = client.post("/login/sms/code/", {"code": wrong})
        assert response["Location"] == "/login/sms/"
        # The right code no longer helps.
        assert client.post("/login/sms/code/", {"code": code})["Location"] == "/login/sms/"
    assert not logged_in(client)
    assert AuthEvent.objects.filter(kind=AuthEventKind.LOGIN_FAILED, detail="wrong_code").count() == 5


def test_an_expired_code_does_not_log_in(
    sms_nurse: User, sms_simulator: SmsSimulator, django_capture_on_commit_callbacks: Capture
) -> None:
    client = english_client()
    with time_machine.travel(NOW, tick=False), django_capture_on_commit_callbacks(execute=True):
        client.post("/login/sms/", {"phone": PHONE, "password": PASSWORD})
    code = code_of(sms_simulator.messages[0].message)
    with time_machine.travel(NOW + timedelta(minutes=5, seconds=1), tick=False):
        response = client.post("/login/sms/code/", {"code": code}, follow=True)
    assert response.redirect_chain == [("/login/sms/", 302)]
    assert b"The code is no longer valid" in response.content
    assert not logged_in(client)
    assert OneTimeCodeChallenge.objects.get().used_at is None


def test_too_many_codes_are_refused(sms_nurse: User) -> None:
    client = english_client()
    with time_machine.travel(NOW, tick=False):
        for _ in range(MAX_SENDS_PER_IDENTITY):
            assert client.post("/login/sms/", {"phone": PHONE, "password": PASSWORD}).status_code == 302
        response = client.post("/login/sms/", {"phone": PHONE, "password": PASSWORD})
    assert response.status_code == 200 and b"Too many codes have been requested" in response.content
    assert Message.objects.count() == MAX_SENDS_PER_IDENTITY


def test_next_url_is_kept(
    sms_nurse: User, sms_simulator: SmsSimulator, django_capture_on_commit_callbacks: Capture
) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/login/sms/", {"phone": PHONE, "password": PASSWORD, "next": "/patients/"})
        response = client.post("/login/sms/code/", {"code": code_of(sms_simulator.messages[0].message)})
    assert response["Location"] == "/patients/"


def test_one_number_shared_by_two_accounts_finds_the_one_with_the_password(
    sms_nurse: User,
    unit_a: CareUnit,
    sms_simulator: SmsSimulator,
    django_capture_on_commit_callbacks: Capture,
) -> None:
    other = make_staff("other_nurse", Role.NURSE, unit=unit_a)
    other.phone = PHONE
    other.set_password("another long passphrase")
    other.save()
    client = Client()
    with time_machine.travel(NOW, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            client.post("/login/sms/", {"phone": PHONE, "password": "another long passphrase"})
        client.post("/login/sms/code/", {"code": code_of(sms_simulator.messages[0].message)})
    assert client.session["_auth_user_id"] == str(other.pk)


def test_password_guessing_by_number_is_throttled(
    sms_nurse: User, sms_simulator: SmsSimulator, django_capture_on_commit_callbacks: Capture
) -> None:
    client = Client()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(MAX_PASSWORD_FAILURES_PER_IDENTITY):
            client.post("/login/sms/", {"phone": PHONE, "password": "guess"})
        blocked = client.post("/login/sms/", {"phone": PHONE, "password": PASSWORD})
    assert blocked.status_code == 429
    assert sms_simulator.messages == []
