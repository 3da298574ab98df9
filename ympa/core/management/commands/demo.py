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

from ympa.core.demo import demo_load, demo_print_logins
from ympa.journal.services import forecast_refresh_all
from ympa.notify.sms_simulator import SmsSimulator


class Command(BaseCommand):
    help = (
        "Migrate, load the demo data (idempotent) and serve on 127.0.0.1 with a worker and the SMS simulator."
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

    def _serve(self, port: int) -> None:
        sms_url = urlsplit(settings.SMS["BASE_URL"])
        if sms_url.hostname in {"127.0.0.1", "localhost"} and sms_url.port:
            simulator = SmsSimulator(
                port=sms_url.port, username=settings.SMS["USERNAME"], password=settings.SMS["PASSWORD"]
            )
            simulator.start()
            self.stdout.write(f"SMS simulator: {simulator.url}/ (every SMS the demo sends shows there)")
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
