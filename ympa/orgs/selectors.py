from __future__ import annotations

from django.db.models import QuerySet

from ympa.orgs.models import Assignment, CareUnit


def unit_assignments(unit: CareUnit) -> QuerySet[Assignment]:
    return (
        Assignment.objects.filter(care_unit=unit)
        .select_related("user")
        .order_by("user__last_name", "valid_from")
    )
