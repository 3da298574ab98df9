"""Forms of the stock pages. They parse input into types; the services hold the rules."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ympa.catalog.models import Product
from ympa.core.forms import StyledForm
from ympa.inventory.models import Batch, PurchaseOrder, StockBalance, StorageLocation, WastageReason
from ympa.inventory.services import MAX_LINES, MAX_QUANTITY, ReceiptLine
from ympa.orgs.models import CareUnit

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
# A service's field key for one line of a delivery: "lines-<index>-<field>".
LINE_ERROR_KEY = re.compile(r"lines-(\d+)-(\w+)")


def slot_key(batch_id: int, location_id: int | None) -> str:
    """A batch at a location as one form value: the forms pick both with one choice."""
    return f"{batch_id}-{location_id or 0}"


def slot_label(balance: StockBalance) -> str:
    batch = balance.batch
    parts = [batch.product.name, batch.batch_number]
    if batch.expiry:
        parts.append(batch.expiry.isoformat())
    if balance.location:
        parts.append(balance.location.name)
    doses = ngettext("%(n)d dose", "%(n)d doses", balance.quantity) % {"n": balance.quantity}
    return " · ".join([*parts, doses])


def location_choices(locations: Iterable[StorageLocation]) -> list[tuple[str, str]]:
    return [("", "—"), *((str(location.pk), location.name) for location in locations)]


class ServiceErrorsForm(StyledForm):
    """A form whose service names some fields differently: `service_fields` maps the service's key to
    the form's field."""

    service_fields: dict[str, str] = {}

    def add_service_errors(self, error: ValidationError) -> None:
        if hasattr(error, "error_dict"):
            error = ValidationError(
                {self.service_fields.get(key, key): errors for key, errors in error.error_dict.items()}
            )
        super().add_service_errors(error)


class SlotForm(ServiceErrorsForm):
    """Picks a batch at a location from what the unit holds."""

    slot = forms.ChoiceField(label=_("Batch"))
    service_fields = {"location": "slot", "batch": "slot"}

    def __init__(self, *args: Any, held: Sequence[StockBalance], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.held = {slot_key(b.batch_id, b.location_id): b for b in held}
        self.fields["slot"].choices = [  # type: ignore[attr-defined]
            ("", "—"),
            *((key, slot_label(balance)) for key, balance in self.held.items()),
        ]

    @property
    def batch(self) -> Batch:
        return self.held[self.cleaned_data["slot"]].batch

    @property
    def location(self) -> StorageLocation | None:
        return self.held[self.cleaned_data["slot"]].location


class WastageForm(SlotForm):
    quantity = forms.IntegerField(label=_("Doses"), min_value=1, max_value=MAX_QUANTITY)
    reason = forms.ChoiceField(label=_("Reason"), choices=[("", "—"), *WastageReason.choices])
    note = forms.CharField(
        label=_("Note"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class TransferForm(SlotForm):
    to_unit = forms.ChoiceField(label=_("To care unit"))
    quantity = forms.IntegerField(label=_("Doses"), min_value=1, max_value=MAX_QUANTITY)
    note = forms.CharField(
        label=_("Note"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, targets: Sequence[CareUnit], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.targets = {str(unit.pk): unit for unit in targets}
        self.fields["to_unit"].choices = [  # type: ignore[attr-defined]
            ("", "—"),
            *((key, unit.name) for key, unit in self.targets.items()),
        ]

    @property
    def target_unit(self) -> CareUnit:
        return self.targets[self.cleaned_data["to_unit"]]


class LocationForm(ServiceErrorsForm):
    """An optional storage location of the unit."""

    location = forms.ChoiceField(label=_("Storage location"), required=False)

    def __init__(self, *args: Any, locations: Sequence[StorageLocation], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locations = {str(location.pk): location for location in locations}
        self.fields["location"].choices = location_choices(locations)  # type: ignore[attr-defined]

    @property
    def chosen_location(self) -> StorageLocation | None:
        return self.locations.get(self.cleaned_data["location"])


class VialOpenForm(StyledForm):
    batch = forms.IntegerField(widget=forms.HiddenInput)
    location = forms.IntegerField(widget=forms.HiddenInput, required=False)


class FlagResolveForm(StyledForm):
    resolution = forms.CharField(
        label=_("How was it resolved?"), max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )


class StorageLocationForm(StyledForm):
    name = forms.CharField(label=_("Name"), max_length=100)


class LedgerFilterForm(StyledForm):
    batch = forms.ChoiceField(label=_("Batch"), required=False)

    def __init__(self, *args: Any, batches: Sequence[Batch], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches = {str(batch.pk): batch for batch in batches}
        self.fields["batch"].choices = [  # type: ignore[attr-defined]
            ("", _("All batches")),
            *((key, f"{batch.product.name} · {batch.batch_number}") for key, batch in self.batches.items()),
        ]

    @property
    def chosen_batch(self) -> Batch | None:
        return self.batches.get(self.cleaned_data["batch"]) if self.is_valid() else None


class DeliveryForm(ServiceErrorsForm):
    supplier = forms.CharField(label=_("Supplier"), max_length=200)
    delivery_note = forms.CharField(label=_("Delivery note number"), max_length=100, required=False)
    purchase_order = forms.ChoiceField(label=_("Purchase order"), required=False)
    note = forms.CharField(
        label=_("Note"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2})
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, orders: Sequence[PurchaseOrder], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.orders = {str(order.pk): order for order in orders}
        self.fields["purchase_order"].choices = [  # type: ignore[attr-defined]
            ("", "—"),
            *(
                (key, f"{order.supplier} ({order.sent_at or order.created_at:%Y-%m-%d})")
                for key, order in self.orders.items()
            ),
        ]

    @property
    def chosen_order(self) -> PurchaseOrder | None:
        return self.orders.get(self.cleaned_data["purchase_order"])


class DeliveryLineForm(StyledForm):
    product = forms.ChoiceField(label=_("Vaccine"))
    batch_number = forms.CharField(
        label=_("Batch number"), max_length=40, widget=forms.TextInput(attrs={"autocomplete": "off"})
    )
    expiry = forms.DateField(label=_("Expiry date"), widget=DATE_WIDGET)
    packages = forms.IntegerField(label=_("Packages"), min_value=1, max_value=MAX_QUANTITY)
    doses_per_package = forms.IntegerField(
        label=_("Doses per package"), min_value=1, max_value=1000, initial=1
    )
    doses_per_vial = forms.IntegerField(label=_("Doses per vial"), min_value=1, max_value=100, initial=1)
    in_use_hours = forms.IntegerField(
        label=_("In-use period (hours)"),
        help_text=_("For a multi-dose vial: how long it may be used once opened."),
        min_value=1,
        max_value=24 * 30,
        required=False,
    )
    location = forms.ChoiceField(label=_("Storage location"), required=False)

    def __init__(
        self,
        *args: Any,
        products: list[tuple[str, list[tuple[str, str]]]],
        locations: Sequence[StorageLocation],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].choices = [("", "—"), *products]  # type: ignore[attr-defined]
        self.locations = {str(location.pk): location for location in locations}
        self.fields["location"].choices = location_choices(locations)  # type: ignore[attr-defined]


class BaseDeliveryLineFormSet(forms.BaseFormSet):
    def lines(self) -> tuple[list[ReceiptLine], list[DeliveryLineForm]]:
        """The filled-in lines as the service takes them, and the form of each (the same index), so that
        the service's "lines-<index>-<field>" errors land on the right row."""
        # An extra row left empty has no cleaned data.
        filled: list[DeliveryLineForm] = [form for form in self.forms if form.cleaned_data]
        products = {
            p.code: p
            for p in Product.objects.filter(code__in=[f.cleaned_data["product"] for f in filled]).defer(
                "sources"
            )
        }
        lines = []
        for form in filled:
            data = form.cleaned_data
            lines.append(
                ReceiptLine(
                    product=products[data["product"]],
                    batch_number=data["batch_number"],
                    expiry=data["expiry"],
                    packages=data["packages"],
                    doses_per_package=data["doses_per_package"],
                    doses_per_vial=data["doses_per_vial"],
                    in_use_hours=data["in_use_hours"],
                    location=form.locations.get(data["location"]),
                )
            )
        return lines, filled


DeliveryLineFormSet = cast(
    type[BaseDeliveryLineFormSet],
    forms.formset_factory(
        DeliveryLineForm,
        formset=BaseDeliveryLineFormSet,
        # No minimum: any row may be left empty, and the service says so when all of them are.
        extra=3,
        max_num=MAX_LINES,
        validate_max=True,
    ),
)


def add_delivery_errors(
    form: DeliveryForm, line_forms: list[DeliveryLineForm], error: ValidationError
) -> None:
    """Put the service's errors on the delivery's fields and on the fields of the lines they name."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, errors in error.error_dict.items():
        match = LINE_ERROR_KEY.fullmatch(key)
        if match and int(match[1]) < len(line_forms):
            line_form = line_forms[int(match[1])]
            line_form.add_error(match[2] if match[2] in line_form.fields else None, errors)
        else:
            form.add_error(key if key in form.fields else None, errors)
