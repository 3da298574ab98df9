"""Display names of the vaccine groups used to organise the catalogue (our own classification)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

VACCINE_GROUPS: dict[str, Promise] = {
    "dtap-ipv-hib-hepb": _("Diphtheria, tetanus, pertussis, polio, Hib, hepatitis B"),
    "dtap-ipv": _("Diphtheria, tetanus, pertussis, polio"),
    "dtap": _("Diphtheria, tetanus, pertussis"),
    "pcv": _("Pneumococcal (conjugate)"),
    "ppv": _("Pneumococcal (polysaccharide)"),
    "rotavirus": _("Rotavirus"),
    "mmr": _("Measles, mumps, rubella"),
    "hpv": _("HPV"),
    "tbe": _("Tick-borne encephalitis (TBE)"),
    "hepa": _("Hepatitis A"),
    "hepb": _("Hepatitis B"),
    "hepab": _("Hepatitis A and B"),
    "influenza": _("Influenza"),
    "covid19": _("Covid-19"),
    "yellow-fever": _("Yellow fever"),
    "typhoid": _("Typhoid"),
    "je": _("Japanese encephalitis"),
    "rabies": _("Rabies"),
    "cholera": _("Cholera"),
    "menacwy": _("Meningococcal ACWY"),
    "menb": _("Meningococcal B"),
}


def group_label(code: str) -> str:
    label = VACCINE_GROUPS.get(code)
    return str(label) if label is not None else code
