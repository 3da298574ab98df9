"""A test browser logged in as a citizen, through the real `citizen_login` (BankID itself is tested in
`ympa/authn/tests/test_bankid_login.py`)."""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.test import Client, RequestFactory

from ympa.citizen.session import citizen_login
from ympa.patients.models import Patient


def citizen_client(patient: Patient) -> Client:
    """A browser session in which `patient` has logged in to the citizen app with BankID."""
    request = RequestFactory().get("/citizen/")
    session: SessionBase = import_module(settings.SESSION_ENGINE).SessionStore()
    request.session = session
    citizen_login(request, personal_number=patient.identifier, name=patient.full_name)
    session.save()
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key or ""
    return client
