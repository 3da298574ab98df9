from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.urls import reverse

from ympa.notify import sms_simulator

DEFAULT_PORTS = {"sms": 8025, "bankid": 8030, "idp": 8040}


class Command(BaseCommand):
    help = (
        "Run a local simulator of an external system on loopback: sms (46elks), bankid (BankID RP API v6.0, "
        "user pages on the next port), idp (the SITHS identity provider, OpenID Connect)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("system", choices=sorted(DEFAULT_PORTS))
        parser.add_argument("--port", type=int, help="default: sms 8025, bankid 8030 (+8031), idp 8040")

    def handle(self, *args: Any, **options: Any) -> None:
        system = options["system"]
        port = options["port"] or DEFAULT_PORTS[system]
        if system == "sms":
            sms_simulator.run(port, username=settings.SMS["USERNAME"], password=settings.SMS["PASSWORD"])
        elif system == "bankid":
            self._bankid(port)
        else:
            self._idp(port)

    def _bankid(self, port: int) -> None:
        from ympa.authn.bankid import simulator

        pki_dir: str = settings.BANKID["SIMULATOR_PKI_DIR"]
        simulator.run(
            port,
            pki_dir,
            identities=(*simulator.DEFAULT_IDENTITIES, *demo_bankid_identities()),
        )

    def _idp(self, port: int) -> None:
        from ympa.authn.oidc import idp_simulator

        config: dict[str, str] = settings.SITHS
        idp_simulator.run(
            port,
            client_id=config["CLIENT_ID"],
            client_secret=config["CLIENT_SECRET"],
            redirect_uris=[f"{settings.PUBLIC_URL}{reverse('authn:siths_callback')}"],
            key_file=config["IDP_KEY_FILE"],
        )


def demo_bankid_identities() -> list[Any]:
    """The demo staff as BankID holders, so that they can log in with the simulator's BankID."""
    from ympa.authn.bankid.simulator import SimIdentity
    from ympa.core.demo import STAFF, staff_identity

    return [
        SimIdentity(staff_identity(username).personal_identity_number, first, last)
        for username, first, last, _role, _place in STAFF
    ]
