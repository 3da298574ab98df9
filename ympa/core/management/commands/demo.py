from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.urls import reverse

from ympa.core.demo import demo_load, demo_print_logins
from ympa.journal.services import forecast_refresh_all
from ympa.notify.sms_simulator import SmsSimulator


class Command(BaseCommand):
    help = (
        "Migrate, load the demo data (idempotent) and serve on 127.0.0.1 with a worker and the SMS, BankID "
        "and SITHS simulators."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-serve", action="store_true", help="only migrate and load the demo")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        started = time.monotonic()
        created, patients, vaccinations = demo_load()
        if created:
            seconds = time.monotonic() - started
            self.stdout.write(
                f"Demo loaded in {seconds:.0f} s: {patients} patients, {vaccinations} vaccinations."
            )
            stats = forecast_refresh_all()
            self.stdout.write(
                f"Decision support: {stats.rows} stored forecasts for {stats.patients} patients."
            )
        else:
            self.stdout.write(f"Demo already loaded: {patients} patients, {vaccinations} vaccinations.")
        base_url = f"http://127.0.0.1:{options['port']}"
        demo_print_logins(self.stdout, base_url=base_url)
        if options["no_serve"]:
            return
        self._serve(options["port"])

    def _login_simulators(self, port: int) -> None:
        """The BankID simulator and the SITHS test IdP, in this process, when the settings point at them."""
        from ympa.authn.bankid.simulator import DEFAULT_IDENTITIES, BankIdSimulator
        from ympa.authn.oidc.idp_simulator import TestIdp
        from ympa.core.management.commands.simulate import demo_bankid_identities

        bankid = settings.BANKID
        bankid_url = urlsplit(bankid["URL"])
        if bankid["ENVIRONMENT"] == "simulator" and bankid_url.hostname == "127.0.0.1" and bankid_url.port:
            user_port = urlsplit(bankid["SIMULATOR_USER_URL"]).port or bankid_url.port + 1
            simulator = BankIdSimulator(
                "127.0.0.1",
                bankid_url.port,
                bankid["SIMULATOR_PKI_DIR"],
                user_port=user_port,
                identities=(*DEFAULT_IDENTITIES, *demo_bankid_identities()),
            )
            simulator.start()
            self.stdout.write(
                f"BankID simulator: paste the QR text at {simulator.user_url}/ and approve as a listed person"
            )
        siths = settings.SITHS
        issuer = urlsplit(siths["ISSUER"])
        if issuer.hostname == "127.0.0.1" and issuer.port:
            idp = TestIdp(
                "127.0.0.1",
                issuer.port,
                client_id=siths["CLIENT_ID"],
                client_secret=siths["CLIENT_SECRET"],
                redirect_uris=[f"http://127.0.0.1:{port}{reverse('authn:siths_callback')}"],
                key_file=siths["IDP_KEY_FILE"],
            )
            idp.start()
            self.stdout.write(f"SITHS test IdP: {idp.url}/ (choose a staff member on its login page)")

    def _serve(self, port: int) -> None:
        sms_url = urlsplit(settings.SMS["BASE_URL"])
        if sms_url.hostname in {"127.0.0.1", "localhost"} and sms_url.port:
            simulator = SmsSimulator(
                port=sms_url.port, username=settings.SMS["USERNAME"], password=settings.SMS["PASSWORD"]
            )
            simulator.start()
            self.stdout.write(f"SMS simulator: {simulator.url}/ (every SMS the demo sends shows there)")
        self._login_simulators(port)
        env = {**os.environ, "YMPA_HTTPS": "0", "YMPA_PUBLIC_URL": f"http://127.0.0.1:{port}"}
        worker = subprocess.Popen([sys.executable, "-m", "ympa.cli", "worker"], env=env)
        try:
            subprocess.run(  # noqa: S603
                [sys.executable, "-m", "ympa.cli", "serve", "--port", str(port)], env=env, check=False
            )
        except KeyboardInterrupt:
            pass
        finally:
            worker.terminate()
            worker.wait(timeout=10)
