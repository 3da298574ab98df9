from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from ympa.inventory.models import Batch, Movement, StockBalance, StorageLocation
from ympa.inventory.selectors import stock_verify
from ympa.orgs.models import CareUnit


class Command(BaseCommand):
    help = (
        "The vaccine stock. `stock verify` compares every cached balance with the sum of its movements in "
        "the ledger, prints each difference and exits non-zero when there is any."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["verify"])

    def handle(self, *args: Any, **options: Any) -> None:
        mismatches = stock_verify()
        if not mismatches:
            self.stdout.write(
                _("%(balances)d balances checked against %(movements)d movements: they match the ledger.")
                % {"balances": StockBalance.objects.count(), "movements": Movement.objects.count()}
            )
            return
        # Named as a stock administrator knows them; ids alone would send them to the database.
        units = CareUnit.objects.in_bulk({row[0] for row in mismatches})
        batches = Batch.objects.select_related("product").in_bulk({row[1] for row in mismatches})
        locations = StorageLocation.objects.in_bulk({row[2] for row in mismatches if row[2]})
        for unit_id, batch_id, slot, cached, ledger in mismatches:
            unit, batch = units[unit_id], batches[batch_id]
            self.stdout.write(
                _("%(unit)s, batch %(batch)s, location %(location)s: cached %(cached)d, ledger %(ledger)d.")
                % {
                    "unit": f"{unit.name} ({unit.hsa_id})",
                    "batch": f"{batch.product.name} {batch.batch_number}",
                    # Slot 0 is stock kept at no particular location.
                    "location": locations[slot].name if slot else "-",
                    "cached": cached,
                    "ledger": ledger,
                }
            )
        raise CommandError(
            _("%(count)d cached balances differ from the ledger.") % {"count": len(mismatches)}
        )
