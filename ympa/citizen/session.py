"""The citizen's session: who logged in with BankID, and which patient record that identity is.

Citizens have no user account: the session holds the personal identity number from BankID's completion
data, the name, and the patient it links to in the register (if any). The same idle and absolute timeouts
as for staff apply (settings SESSION_IDLE_SECONDS and SESSION_ABSOLUTE_SECONDS).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from uuid import UUID

from django.conf import settings
from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpRequest

from ympa.access.models import Action
from ympa.access.services import audit_event_record
from ympa.authn.assurance import Assurance, LoginMethod
from ympa.authn.models import AuthEventKind
from ympa.authn.request import client_ip, user_agent
from ympa.authn.services import auth_event_record
from ympa.core.actor import Actor
from ympa.patients.models import IdentifierKind, Patient

SESSION_KEY = "ympa_citizen"
# Last activity is written at most this often (a session write per request would be wasted work).
ACTIVITY_RESOLUTION_SECONDS = 60


@dataclass(frozen=True)
class CitizenSession:
    personal_number: str
    name: str
    patient_id: UUID | None
    login_at: float

    @property
    def actor(self) -> Actor:
        return Actor.citizen(self.personal_number, self.name)


def _linked_patient(personal_number: str) -> Patient | None:
    return Patient.objects.filter(
        identifier_kind__in=[IdentifierKind.PERSONNUMMER, IdentifierKind.SAMORDNINGSNUMMER],
        identifier=personal_number,
    ).first()


@transaction.atomic
def citizen_login(request: HttpRequest, *, personal_number: str, name: str) -> CitizenSession:
    """Start a citizen session for the person BankID identified; any earlier login in this browser ends."""
    logout(request)
    patient = _linked_patient(personal_number)
    now = time.time()
    session = CitizenSession(personal_number, name, patient.pk if patient else None, now)
    request.session[SESSION_KEY] = {
        "personal_number": personal_number,
        "name": name,
        "patient": str(patient.pk) if patient else "",
        "login_at": now,
        "active_at": now,
    }
    auth_event_record(
        kind=AuthEventKind.LOGIN,
        identity=personal_number,
        method=LoginMethod.BANKID.value,
        assurance=int(Assurance.HIGH),
        ip=client_ip(request),
        user_agent=user_agent(request),
        detail="citizen",
    )
    if patient is not None:
        # Linking the login to the register reads the patient record: logged like any other access.
        audit_event_record(
            actor=session.actor,
            action=Action.READ,
            patient=patient,
            object_type="patients.patient",
            object_id=str(patient.pk),
            purpose="citizen login",
        )
    return session


def citizen_session(request: HttpRequest) -> CitizenSession | None:
    """The logged-in citizen, or None; a session past its idle or absolute timeout is ended here."""
    state = request.session.get(SESSION_KEY)
    if not isinstance(state, dict):
        return None
    now = time.time()
    login_at = float(state.get("login_at") or 0)
    active_at = float(state.get("active_at") or 0)
    if now - active_at > settings.SESSION_IDLE_SECONDS or now - login_at > settings.SESSION_ABSOLUTE_SECONDS:
        citizen_logout(request, timeout=True)
        return None
    if now - active_at > ACTIVITY_RESOLUTION_SECONDS:
        state["active_at"] = now
        request.session.modified = True
    patient = state.get("patient")
    return CitizenSession(
        personal_number=str(state["personal_number"]),
        name=str(state.get("name") or ""),
        patient_id=UUID(patient) if patient else None,
        login_at=login_at,
    )


def citizen_logout(request: HttpRequest, *, timeout: bool = False) -> None:
    state = request.session.get(SESSION_KEY)
    if isinstance(state, dict):
        auth_event_record(
            kind=AuthEventKind.TIMEOUT if timeout else AuthEventKind.LOGOUT,
            identity=str(state.get("personal_number") or ""),
            method=LoginMethod.BANKID.value,
            ip=client_ip(request),
            user_agent=user_agent(request),
            detail="citizen",
        )
    request.session.flush()
