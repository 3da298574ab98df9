"""Synthetic people for the demo and for volume data. Every generated person is marked as test data.

Names are common Swedish names, combined at random; identity numbers are generated with a valid check
digit, so some may coincide with real people: the records are flagged `is_test_data` everywhere.
"""

from __future__ import annotations

import random
from datetime import date

from ympa.identifiers import luhn_check_digit

GIVEN_FEMALE = [
    "Anna",
    "Eva",
    "Maria",
    "Karin",
    "Sara",
    "Lena",
    "Emma",
    "Kerstin",
    "Ingrid",
    "Malin",
    "Linnea",
    "Elsa",
    "Alice",
    "Maja",
    "Ella",
    "Wilma",
    "Astrid",
    "Saga",
    "Ebba",
    "Alma",
    "Julia",
    "Klara",
    "Agnes",
    "Freja",
    "Hanna",
    "Ida",
    "Johanna",
    "Sofia",
    "Amira",
    "Leila",
    "Noor",
    "Aino",
]
GIVEN_MALE = [
    "Erik",
    "Lars",
    "Karl",
    "Anders",
    "Johan",
    "Per",
    "Nils",
    "Mikael",
    "Oscar",
    "William",
    "Lucas",
    "Hugo",
    "Liam",
    "Noah",
    "Elias",
    "Adam",
    "Alexander",
    "Viktor",
    "Filip",
    "Axel",
    "Leo",
    "Olle",
    "Gustav",
    "Isak",
    "Ali",
    "Omar",
    "Mohammed",
    "Jonas",
    "Daniel",
    "Henrik",
    "Matti",
    "Emil",
]
FAMILY = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Lindberg",
    "Lindqvist",
    "Lundgren",
    "Berg",
    "Bergström",
    "Sandberg",
    "Forsberg",
    "Sjöberg",
    "Wallin",
    "Engström",
    "Eklund",
    "Holm",
    "Nyström",
    "Ali",
    "Hassan",
    "Mohammed",
    "Virtanen",
    "Korhonen",
    "Nguyen",
    "Kowalski",
    "Öberg",
]
STREETS = ["Storgatan", "Kyrkogatan", "Drottninggatan", "Skolgatan", "Parkvägen", "Björkvägen", "Ängsvägen"]


def personnummer(birth: date, serial: int, *, female: bool) -> str:
    """A 12-digit personnummer born on `birth`; `serial` picks one of the 499 birth numbers of that sex."""
    # Birth numbers run 001-999; the last digit's parity is the legal sex (even: female).
    birth_number = 2 * (serial % 499) + (2 if female else 1)
    short = f"{birth:%y%m%d}{birth_number:03d}"
    return f"{birth:%Y%m%d}{birth_number:03d}{luhn_check_digit(short)}"


def organisation_number(prefix: str) -> str:
    """A 10-digit organisation number `prefix` + check digit, formatted NNNNNN-NNNN."""
    if len(prefix) != 9 or not prefix.isdigit():
        raise ValueError("prefix must be 9 digits")
    number = f"{prefix}{luhn_check_digit(prefix)}"
    return f"{number[:6]}-{number[6:]}"


def given_name(rng: random.Random, *, female: bool) -> str:
    return rng.choice(GIVEN_FEMALE if female else GIVEN_MALE)


def street_address(rng: random.Random) -> str:
    return f"{rng.choice(STREETS)} {rng.randint(1, 60)}"
