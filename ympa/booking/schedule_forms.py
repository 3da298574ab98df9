"""Forms of the schedule pages: they parse types only, the services in `ympa.booking.schedule` decide."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ympa.booking.models import AppointmentType, Audience, DeclarationForm, Resource, ResourceKind
from ympa.booking.schedule import Period, weekday_name
from ympa.catalog.models import Product
from ympa.core.dates import SWEDEN
from ympa.core.forms import StyledForm
from ympa.journal.forecasts import group_label

DATE_WIDGET = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME_LOCAL = "%Y-%m-%dT%H:%M"


def _time_field(label: Any, *, required: bool = True) -> forms.TimeField:
    return forms.TimeField(
        label=label,
        required=required,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )


class PeriodForm(StyledForm):
    weekday = forms.TypedChoiceField(label=_("Day"), coerce=int, required=False, choices=())
    opens = _time_field(_("Opens"), required=False)
    closes = _time_field(_("Closes"), required=False)
    drop_in = forms.BooleanField(label=_("Drop-in"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["weekday"].choices = [("", "—")] + [(i, weekday_name(i)) for i in range(7)]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.has_changed() and not data.get("DELETE"):
            for name in ("weekday", "opens", "closes"):
                if data.get(name) in (None, "") and name not in self.errors:
                    self.add_error(name, _("Fill in the day, the opening and the closing time."))
        return data

    def period(self) -> Period | None:
        data = self.cleaned_data
        if not self.has_changed() or data.get("DELETE") or data.get("weekday") in (None, ""):
            return None
        return Period(
            weekday=int(data["weekday"]), opens=data["opens"], closes=data["closes"], drop_in=data["drop_in"]
        )


class BasePeriodFormSet(forms.BaseFormSet):
    def periods(self) -> list[Period]:
        return [p for form in self.forms if (p := form.period()) is not None]


PeriodFormSet = forms.formset_factory(
    PeriodForm, formset=BasePeriodFormSet, extra=3, can_delete=True, max_num=70, validate_max=True
)


def period_initial(rows: Any) -> list[dict[str, Any]]:
    return [{"weekday": r.weekday, "opens": r.opens, "closes": r.closes, "drop_in": r.drop_in} for r in rows]


class ExceptionForm(StyledForm):
    day = forms.DateField(label=_("Day"), widget=DATE_WIDGET)
    closed = forms.BooleanField(label=_("Closed all day"), required=False, initial=True)
    opens = _time_field(_("Opens"), required=False)
    closes = _time_field(_("Closes"), required=False)
    note = forms.CharField(label=_("Note"), required=False, max_length=200)


class ResourceForm(StyledForm):
    name = forms.CharField(label=_("Name"), max_length=100)
    kind = forms.ChoiceField(label=_("Kind"), choices=ResourceKind.choices)


class AppointmentTypeForm(StyledForm):
    name = forms.CharField(label=_("Name"), max_length=100)
    duration_minutes = forms.IntegerField(label=_("Duration (minutes)"), min_value=1, initial=10)
    products = forms.MultipleChoiceField(
        label=_("Vaccines offered"), required=False, widget=forms.CheckboxSelectMultiple, choices=()
    )
    price_sek = forms.IntegerField(label=_("Price (kronor)"), min_value=0, initial=0)
    audience = forms.ChoiceField(label=_("Who may book"), choices=Audience.choices, initial=Audience.PUBLIC)
    vaccine_group = forms.ChoiceField(
        label=_("Vaccine group for the second-dose interval"), required=False, choices=()
    )
    declaration_form = forms.TypedChoiceField(
        label=_("Health declaration form"), required=False, coerce=int, empty_value=None, choices=()
    )

    def __init__(
        self,
        *args: Any,
        products: list[Product],
        groups: list[str],
        declaration_forms: list[DeclarationForm],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.product_objects = {str(p.pk): p for p in products}
        self.declaration_forms = {f.pk: f for f in declaration_forms}
        self.fields["products"].choices = [(str(p.pk), p.name) for p in products]  # type: ignore[attr-defined]
        self.fields["vaccine_group"].choices = [("", _("None"))] + [(g, group_label(g)) for g in groups]  # type: ignore[attr-defined]
        self.fields["declaration_form"].choices = [("", _("None"))] + [  # type: ignore[attr-defined]
            (f.pk, f.name) for f in declaration_forms
        ]

    @classmethod
    def initial_of(cls, kind: AppointmentType) -> dict[str, Any]:
        return {
            "name": kind.name,
            "duration_minutes": kind.duration_minutes,
            "products": [str(p.pk) for p in kind.products.all()],
            "price_sek": kind.price_sek,
            "audience": kind.audience,
            "vaccine_group": kind.vaccine_group,
            "declaration_form": kind.declaration_form_id,
        }

    def chosen_products(self) -> list[Product]:
        return [self.product_objects[pk] for pk in self.cleaned_data["products"]]

    def chosen_declaration_form(self) -> DeclarationForm | None:
        chosen = self.cleaned_data.get("declaration_form")
        return self.declaration_forms.get(chosen) if chosen is not None else None


class GenerateForm(StyledForm):
    appointment_type = forms.TypedChoiceField(label=_("Appointment type"), coerce=int, choices=())
    resources = forms.TypedMultipleChoiceField(
        label=_("Resources"), coerce=int, widget=forms.CheckboxSelectMultiple, choices=()
    )
    start = forms.DateField(label=_("First day"), widget=DATE_WIDGET)
    end = forms.DateField(label=_("Last day"), widget=DATE_WIDGET)

    def __init__(
        self, *args: Any, kinds: list[AppointmentType], resources: list[Resource], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.kinds = {k.pk: k for k in kinds}
        self.resource_objects = {r.pk: r for r in resources}
        self.fields["appointment_type"].choices = [(k.pk, k.name) for k in kinds]  # type: ignore[attr-defined]
        self.fields["resources"].choices = [(r.pk, r.name) for r in resources]  # type: ignore[attr-defined]
        if not self.is_bound:
            today = timezone.localdate(timezone=SWEDEN)
            self.initial.setdefault("start", today)
            self.initial.setdefault("end", today)
            self.initial.setdefault("resources", list(self.resource_objects))

    def chosen_type(self) -> AppointmentType:
        return self.kinds[self.cleaned_data["appointment_type"]]

    def chosen_resources(self) -> list[Resource]:
        return [self.resource_objects[pk] for pk in self.cleaned_data["resources"]]


class ReleaseForm(GenerateForm):
    release_at = forms.DateTimeField(
        label=_("Bookable from"),
        input_formats=[DATETIME_LOCAL, "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format=DATETIME_LOCAL),
    )
    min_age = forms.IntegerField(label=_("Lowest age"), required=False, min_value=0)
    max_age = forms.IntegerField(label=_("Highest age"), required=False, min_value=0)
    note = forms.CharField(label=_("Note"), required=False, max_length=200)

    field_order = [
        "appointment_type",
        "resources",
        "start",
        "end",
        "release_at",
        "min_age",
        "max_age",
        "note",
    ]

    def clean_release_at(self) -> Any:
        # Entered in Swedish time, whatever timezone a request has activated.
        value = self.cleaned_data["release_at"]
        return value.replace(tzinfo=None).replace(tzinfo=SWEDEN) if value is not None else value


class WithdrawDayForm(StyledForm):
    resource = forms.IntegerField(widget=forms.HiddenInput)
    day = forms.DateField(widget=forms.HiddenInput)


def parse_monday(value: str | None) -> date:
    """The Monday of the week holding `value` (YYYY-MM-DD), or of this week."""
    try:
        day = date.fromisoformat(value) if value else timezone.localdate(timezone=SWEDEN)
    except ValueError:
        day = timezone.localdate(timezone=SWEDEN)
    return date.fromordinal(day.toordinal() - day.weekday())
