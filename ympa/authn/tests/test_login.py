from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import pyotp
import pytest
import time_machine
from django.test import Client

from conftest import PASSWORD, TOTP_SECRET, make_staff
from ympa.authn.models import User
from ympa.authn.selectors import (
    MAX_PASSWORD_FAILURES_PER_IDENTITY,
    MAX_PASSWORD_FAILURES_PER_IP,
    PASSWORD_WINDOW,
)
from ympa.orgs.models import Assignment, CareUnit
from ympa.orgs.rights import Role

pytestmark = pytest.mark.django_db
# Later than any fixture's creation time, so assignments created "now" are already valid.
NOW = datetime(2027, 1, 15, 9, 0, tzinfo=UTC)


def code_at(moment: datetime, secret: str = TOTP_SECRET) -> str:
    return pyotp.TOTP(secret).at(moment)


def test_password_then_totp_then_home(nurse_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False):
        response = client.post("/login/", {"username": "nurse_a", "password": PASSWORD})
        assert response.status_code == 302 and response["Location"] == "/login/code/"
        # Not logged in before the second step.
        assert client.get("/").status_code == 302
        response = client.post("/login/code/", {"code": code_at(NOW)})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.session["assignment_id"] == nurse_a.assignments.get().pk


def test_wrong_password_shows_error(nurse_a: User) -> None:
    response = Client().post("/login/", {"username": "nurse_a", "password": "nope"})
    assert response.status_code == 200
    assert "Fel användarnamn eller lösenord".encode() in response.content


def test_totp_code_cannot_be_replayed(nurse_a: User) -> None:
    with time_machine.travel(NOW, tick=False):
        first = Client()
        first.post("/login/", {"username": "nurse_a", "password": PASSWORD})
        assert first.post("/login/code/", {"code": code_at(NOW)}).status_code == 302
        second = Client()
        second.post("/login/", {"username": "nurse_a", "password": PASSWORD})
        response = second.post("/login/code/", {"code": code_at(NOW)})
    assert response.status_code == 200
    assert second.get("/").status_code == 302


def test_too_many_wrong_codes_restart_the_login(nurse_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False):
        client.post("/login/", {"username": "nurse_a", "password": PASSWORD})
        for _ in range(4):
            assert client.post("/login/code/", {"code": "000000"}).status_code == 200
        response = client.post("/login/code/", {"code": "000000"})
        assert response.status_code == 302 and response["Location"] == "/login/"
        # Even the right code is no longer accepted without the password again.
        assert client.post("/login/code/", {"code": code_at(NOW)})["Location"] == "/login/"
    assert client.get("/").status_code == 302


def test_pending_login_expires(nurse_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False):
        client.post("/login/", {"username": "nurse_a", "password": PASSWORD})
    later = datetime.fromtimestamp(NOW.timestamp() + 600, tz=UTC)
    with time_machine.travel(later, tick=False):
        response = client.post("/login/code/", {"code": code_at(later)})
    assert response["Location"] == "/login/"


def test_enrolment_for_a_user_without_totp(unit_a: CareUnit) -> None:
    user = make_staff("new_nurse", Role.NURSE, unit=unit_a)
    User.objects.filter(pk=user.pk).update(totp_secret="")
    client = Client()
    with time_machine.travel(NOW, tick=False):
        assert (
            client.post("/login/", {"username": "new_nurse", "password": PASSWORD})["Location"]
            == "/login/enrol/"
        )
        page = client.get("/login/enrol/")
        secret = re.search(rb'data-testid="totp-secret">([A-Z2-7]+)<', page.content)
        assert secret is not None and b"data:image/svg+xml" in page.content
        response = client.post("/login/enrol/", {"code": code_at(NOW, secret.group(1).decode())})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.totp_secret == secret.group(1).decode()


def test_choose_between_assignments(nurse_a: User, unit_a2: CareUnit) -> None:
    second = Assignment.objects.create(user=nurse_a, care_unit=unit_a2, role=Role.NURSE)
    client = Client()
    # Everything at the frozen time: the session's idle timeout counts from the login.
    with time_machine.travel(NOW, tick=False):
        client.post("/login/", {"username": "nurse_a", "password": PASSWORD})
        response = client.post("/login/code/", {"code": code_at(NOW)})
        assert response["Location"] == "/assignment/"
        assert client.get("/").status_code == 302
        assert client.post("/assignment/", {"assignment": second.pk})["Location"] == "/"
        assert b"Clinic A2" in client.get("/").content


def test_cannot_choose_someone_elses_assignment(nurse_a: User, nurse_b: User) -> None:
    client = Client()
    client.force_login(nurse_a)
    client.post("/assignment/", {"assignment": nurse_b.assignments.get().pk})
    assert "assignment_id" not in client.session


def test_expired_assignment_is_dropped_from_the_session(nurse_a: User) -> None:
    client = Client()
    client.force_login(nurse_a)
    client.post("/assignment/", {"assignment": nurse_a.assignments.get().pk})
    assert client.get("/").status_code == 200
    nurse_a.assignments.update(
        valid_until=datetime.fromtimestamp(time.time() - 1, tz=UTC),
        valid_from=datetime(2020, 1, 1, tzinfo=UTC),
    )
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/assignment/"


def test_next_url_is_kept_but_only_on_this_site(nurse_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False):
        client.post("/login/", {"username": "nurse_a", "password": PASSWORD, "next": "https://evil.example/"})
        assert client.post("/login/code/", {"code": code_at(NOW)})["Location"] == "/"


def test_password_guessing_is_throttled_per_username(nurse_a: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False) as traveller:
        for _ in range(MAX_PASSWORD_FAILURES_PER_IDENTITY):
            assert client.post("/login/", {"username": "nurse_a", "password": "guess"}).status_code == 200
        # Now even the right password is not checked, and nothing is logged in.
        blocked = client.post("/login/", {"username": "nurse_a", "password": PASSWORD})
        assert blocked.status_code == 429
        assert "pending_login" not in client.session
        # Another username from another address is not affected.
        other = Client(REMOTE_ADDR="192.0.2.7")
        assert other.post("/login/", {"username": "someone", "password": "x"}).status_code == 200
        traveller.shift(PASSWORD_WINDOW)
        response = client.post("/login/", {"username": "nurse_a", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/login/code/"


def test_password_guessing_is_throttled_per_address(nurse_a: User) -> None:
    client = Client(REMOTE_ADDR="192.0.2.9")
    with time_machine.travel(NOW, tick=False):
        for number in range(MAX_PASSWORD_FAILURES_PER_IP):
            client.post("/login/", {"username": f"user{number}", "password": "guess"})
        blocked = client.post("/login/", {"username": "nurse_a", "password": PASSWORD})
    assert blocked.status_code == 429
