"""Reads for the stock pages of the staff web app, each scoped to one care unit.

The balances and the ledger themselves come from `ympa.inventory.selectors`; these are the lists around
them: deliveries, transfers, storage locations and what can be picked in the forms.
"""

from __future__ import annotations

from uuid import UUID

from django.db.models import Count, Q, QuerySet, Sum

from ympa.inventory.models import (
    Batch,
    Delivery,
    Movement,
    PurchaseOrder,
    PurchaseOrderStatus,
    StockBalance,
    StockFlag,
    StorageLocation,
    Transfer,
)
from ympa.orgs.models import CareUnit


def unit_deliveries(*, unit: CareUnit) -> QuerySet[Delivery]:
    """The unit's deliveries, newest first, with their number of lines and doses in the same query."""
    return (
        Delivery.objects.filter(care_unit=unit)
        .select_related("received_by", "purchase_order")
        .annotate(line_count=Count("movements"), doses=Sum("movements__quantity"))
        .order_by("-received_at", "pk")
    )


def unit_delivery(*, unit: CareUnit, delivery_id: UUID) -> Delivery | None:
    return (
        Delivery.objects.filter(care_unit=unit, pk=delivery_id)
        .select_related("received_by", "purchase_order")
        .first()
    )


def delivery_lines(*, delivery: Delivery) -> QuerySet[Movement]:
    return delivery.movements.select_related("batch__product", "location").order_by("id")


def unit_transfers(*, unit: CareUnit, incoming: bool, limit: int = 100) -> list[Transfer]:
    """Transfers to (incoming) or from the unit, those still on their way first, then the newest."""
    transfers = Transfer.objects.filter(to_unit=unit) if incoming else Transfer.objects.filter(from_unit=unit)
    # "received" sorts before "sent": descending puts the ones on their way first.
    return list(
        transfers.select_related("batch__product", "from_unit", "to_unit", "sent_by", "received_by").order_by(
            "-status", "-sent_at"
        )[:limit]
    )


def transfer_by_id(*, transfer_id: UUID) -> Transfer | None:
    """A transfer by its id, whichever unit it concerns: receiving it is the service's to allow or refuse."""
    return Transfer.objects.filter(pk=transfer_id).first()


def stock_flag(*, flag_id: int) -> StockFlag | None:
    """A stock flag by its id, whichever unit it concerns: the service allows or refuses resolving it."""
    return StockFlag.objects.filter(pk=flag_id).first()


def transfer_targets(*, unit: CareUnit) -> QuerySet[CareUnit]:
    """The care units stock can be sent to: the other units of the same care provider."""
    return (
        CareUnit.objects.filter(care_provider_id=unit.care_provider_id).exclude(pk=unit.pk).order_by("name")
    )


def storage_locations(*, unit: CareUnit, active_only: bool = True) -> QuerySet[StorageLocation]:
    locations = StorageLocation.objects.filter(care_unit=unit)
    if active_only:
        locations = locations.filter(active=True)
    return locations.order_by("name")


def stock_held(*, unit: CareUnit) -> QuerySet[StockBalance]:
    """What the unit holds, per batch and location (expired batches too: they are wasted from here)."""
    return (
        StockBalance.objects.filter(care_unit=unit, quantity__gt=0)
        .select_related("batch__product", "location")
        .order_by("batch__product__name", "batch__expiry", "batch__batch_number", "slot")
    )


def ledger_batches(*, unit: CareUnit) -> QuerySet[Batch]:
    """The batches the unit has booked: each has a balance row at the unit, empty or not."""
    return (
        Batch.objects.filter(balances__care_unit=unit)
        .select_related("product")
        .distinct()
        .order_by("product__name", "batch_number")
    )


def sent_purchase_orders(*, unit: CareUnit) -> QuerySet[PurchaseOrder]:
    """The unit's purchase orders a delivery can be received against."""
    return PurchaseOrder.objects.filter(care_unit=unit, status=PurchaseOrderStatus.SENT).order_by("-sent_at")


def held_slot(*, unit: CareUnit, batch_id: int, location_id: int | None) -> StockBalance | None:
    """The unit's balance row of a batch at a location, if the unit has ever held it there."""
    return (
        StockBalance.objects.filter(care_unit=unit, batch_id=batch_id)
        .filter(Q(location_id=location_id) if location_id else Q(location__isnull=True))
        .select_related("batch", "location")
        .first()
    )
