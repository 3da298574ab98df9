"""Deployment checks (`ympa check --deploy`): no simulator or test secret may reach production."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# The local test IdP's default secret (settings.SITHS): anyone who reads the source knows it.
TEST_IDP_SECRET = "ympa-test-idp-secret"  # noqa: S105


@register(Tags.security, deploy=True)
def check_login_services(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    bankid = settings.BANKID
    if bankid["ENVIRONMENT"] == "simulator":
        messages.append(
            Warning(
                "BankID points at the local simulator.",
                hint="Set YMPA_BANKID=production (or test) and the YMPA_BANKID_*_FILE certificate paths.",
                id="ympa.W001",
            )
        )
    else:
        for name in ("CERT_FILE", "KEY_FILE", "CA_FILE"):
            if not Path(bankid[name]).is_file():
                messages.append(
                    Error(
                        f"BankID's {name.lower().replace('_', ' ')} {bankid[name]} does not exist.",
                        hint=f"Set YMPA_BANKID_{name} to the relying-party certificate files from your bank.",
                        id="ympa.E001",
                    )
                )
    siths = settings.SITHS
    if urlsplit(siths["ISSUER"]).hostname in LOOPBACK or siths["CLIENT_SECRET"] == TEST_IDP_SECRET:
        messages.append(
            Warning(
                "SITHS login points at the local test identity provider or uses its test secret.",
                hint="Set YMPA_SITHS_ISSUER, YMPA_SITHS_CLIENT_ID and YMPA_SITHS_CLIENT_SECRET.",
                id="ympa.W002",
            )
        )
    return messages
