"""Forms of the planning pages. They parse types only; the services hold the rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ympa.catalog.models import Product
from ympa.core.forms import StyledForm
from ympa.inventory.planning_selectors import CountRow
from ympa.inventory.selectors import ToOrder
from ympa.inventory.services import MAX_LINES, MAX_QUANTITY

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

# Typed with the number row or keypad; a number input would change its value when the page is scrolled.
NUMBER_ATTRS = {"inputmode": "numeric", "pattern": "[0-9]*", "autocomplete": "off"}


def active_products() -> dict[str, Product]:
    """The products one can stock and order, by code, in name order."""
    return {product.code: product for product in Product.objects.filter(active=True).order_by("name")}


def product_field(products: dict[str, Product]) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=_("Vaccine"), choices=[("", "—"), *((code, p.name) for code, p in products.items())]
    )


def doses_field(
    label: StrOrPromise, *, minimum: int, required: bool = True, initial: int | None = None
) -> forms.Field:
    return forms.IntegerField(
        label=label,
        required=required,
        min_value=minimum,
        max_value=MAX_QUANTITY,
        initial=initial,
        widget=forms.TextInput(attrs=NUMBER_ATTRS),
    )


class CountSheetForm(StyledForm):
    """One field per line of the counting sheet, named by the line's key, prefilled with what was counted."""

    def __init__(self, *args: Any, rows: Sequence[CountRow], **kwargs: Any) -> None:
        self.rows = list(rows)
        super().__init__(*args, **kwargs)
        # The template writes each input itself, with the htmx attributes that save its line.
        for row in self.rows:
            self.fields[row.key] = doses_field(
                _("Counted doses"), minimum=0, required=False, initial=row.line.counted if row.line else None
            )

    def bound_rows(self) -> list[tuple[CountRow, forms.BoundField]]:
        return [(row, self[row.key]) for row in self.rows]

    def changed_counts(self) -> list[tuple[CountRow, int]]:
        """The lines given a count they do not have yet (call after is_valid). A line whose number is
        unchanged is not recorded again: that would take a new expected balance for an old count."""
        return [
            (row, self.cleaned_data[row.key])
            for row in self.rows
            if self.cleaned_data.get(row.key) is not None
            and (row.line is None or row.line.counted != self.cleaned_data[row.key])
        ]


class ReorderLevelForm(StyledForm):
    reorder_at = doses_field(_("Reorder level (doses)"), minimum=0)
    order_quantity = doses_field(_("Order quantity (doses)"), minimum=1)

    def __init__(self, *args: Any, products: dict[str, Product], **kwargs: Any) -> None:
        self.products = products
        super().__init__(*args, **kwargs)
        self.fields = {"product": product_field(products), **self.fields}
        self.fields["product"].widget.attrs["class"] = "form-select"
        self.fields["reorder_at"].help_text = _(
            "The product goes on the list to order when usable stock and what is on order fall to this."
        )

    def product(self) -> Product:
        return self.products[self.cleaned_data["product"]]


class DraftOrderForm(StyledForm):
    """The "to order" list as a form: which suggestions to order, how many of each, and from whom."""

    supplier = forms.CharField(label=_("Supplier"), max_length=200)

    def __init__(self, *args: Any, suggestions: Sequence[ToOrder], **kwargs: Any) -> None:
        self.suggestions = list(suggestions)
        super().__init__(*args, **kwargs)
        for suggestion in self.suggestions:
            pk = suggestion.product.pk
            self.fields[f"include-{pk}"] = forms.BooleanField(
                label=suggestion.product.name, required=False, initial=True
            )
            self.fields[f"quantity-{pk}"] = doses_field(
                _("Doses to order"), minimum=1, required=False, initial=suggestion.suggested
            )
            for name, css in ((f"include-{pk}", "form-check-input"), (f"quantity-{pk}", "form-control")):
                self.fields[name].widget.attrs["class"] = css

    def rows(self) -> list[tuple[ToOrder, forms.BoundField, forms.BoundField]]:
        return [
            (s, self[f"include-{s.product.pk}"], self[f"quantity-{s.product.pk}"]) for s in self.suggestions
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for suggestion in self.suggestions:
            pk = suggestion.product.pk
            if data.get(f"include-{pk}") and data.get(f"quantity-{pk}") is None:
                self.add_error(f"quantity-{pk}", _("Enter the number of doses to order."))
        return data

    def lines(self) -> list[tuple[Product, int]]:
        return [
            (s.product, self.cleaned_data[f"quantity-{s.product.pk}"])
            for s in self.suggestions
            if self.cleaned_data.get(f"include-{s.product.pk}")
        ]


class PurchaseOrderForm(StyledForm):
    supplier = forms.CharField(label=_("Supplier"), max_length=200)
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PurchaseOrderLineForm(StyledForm):
    quantity = doses_field(_("Doses"), minimum=1, required=False)

    def __init__(self, *args: Any, products: dict[str, Product], **kwargs: Any) -> None:
        self.products = products
        super().__init__(*args, **kwargs)
        self.fields = {"product": product_field(products), **self.fields}
        self.fields["product"].required = False
        self.fields["product"].widget.attrs["class"] = "form-select"

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("product") and data.get("quantity") is None:
            self.add_error("quantity", _("Enter the number of doses to order."))
        elif data.get("quantity") is not None and not data.get("product"):
            self.add_error("product", _("Choose the vaccine."))
        return data

    def line(self) -> tuple[Product, int] | None:
        code = self.cleaned_data.get("product")
        return (self.products[code], self.cleaned_data["quantity"]) if code else None


PurchaseOrderLineFormSet = forms.formset_factory(
    PurchaseOrderLineForm, extra=5, max_num=MAX_LINES, validate_max=True, absolute_max=MAX_LINES
)


class ConsumptionForm(StyledForm):
    start = forms.DateField(
        label=_("From"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(label=_("To"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))

    def period(self, default: tuple[date, date]) -> tuple[date, date] | None:
        """The chosen period; the default when none was chosen; None when the input is not valid."""
        if not self.is_bound:
            return default
        if not self.is_valid():
            return None
        return self.cleaned_data["start"], self.cleaned_data["end"]
