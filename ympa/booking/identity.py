"""Who the public booking pages act for: a person identified by BankID or by personnummer and a one-time
code, kept in the Django session. A citizen-app session (BankID) counts as identified too."""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from django.http import HttpRequest

from ympa.core.actor import Actor, ActorKind, Channel

SESSION_KEY = "ympa_booking_identity"
METHODS = ("bankid", "otp")


@dataclass(frozen=True)
class Identity:
    pnr: str
    method: str
    when: float
    given_name: str = ""
    family_name: str = ""

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip()

    @property
    def actor(self) -> Actor:
        # A code by SMS or e-mail proves less than BankID: the actor says so (assurance 1 against 3).
        return Actor(
            kind=ActorKind.CITIZEN,
            identity=self.pnr,
            display_name=self.name or self.pnr,
            channel=Channel.CITIZEN_APP,
            assurance=3 if self.method == "bankid" else 1,
        )


def identity_set(
    request: HttpRequest, *, pnr: str, method: str, given_name: str = "", family_name: str = ""
) -> None:
    """Remember the identified person (12-digit personnummer) in this browser's session."""
    if len(pnr) != 12 or not pnr.isdigit():
        raise ValueError("pnr must be the 12-digit personnummer")
    if method not in METHODS:
        raise ValueError(f"unknown identification method {method!r}")
    request.session[SESSION_KEY] = {
        "pnr": pnr,
        "method": method,
        "when": time.time(),
        "given_name": given_name,
        "family_name": family_name,
    }


def identity_get(request: HttpRequest) -> Identity | None:
    """The identified person, or None; an identification older than the session's idle timeout is gone."""
    state = request.session.get(SESSION_KEY)
    if isinstance(state, dict):
        when = float(state.get("when") or 0)
        if time.time() - when <= settings.SESSION_IDLE_SECONDS:
            return Identity(
                pnr=str(state["pnr"]),
                method=str(state["method"]),
                when=when,
                given_name=str(state.get("given_name") or ""),
                family_name=str(state.get("family_name") or ""),
            )
        request.session.pop(SESSION_KEY, None)
    from ympa.citizen.session import citizen_session

    citizen = citizen_session(request)
    if citizen is None:
        return None
    given, _space, family = citizen.name.partition(" ")
    return Identity(
        pnr=citizen.personal_number,
        method="bankid",
        when=citizen.login_at,
        given_name=given,
        family_name=family,
    )


def identity_clear(request: HttpRequest) -> None:
    request.session.pop(SESSION_KEY, None)
