"""CSV for Swedish spreadsheets: columns by semicolon, a byte order mark, and no formula can run."""

from __future__ import annotations

import csv
import io

from ympa.core.spreadsheet import cell, csv_bytes


def test_formulas_are_made_inert_and_numbers_are_not() -> None:
    assert cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert cell("@SUM(A1)") == "'@SUM(A1)"
    assert cell("-2+3") == "'-2+3"
    assert cell("+46 70-123 45 67") == "+46 70-123 45 67"
    assert cell("Vårdcentralen") == "Vårdcentralen"
    assert cell(None) == ""


def test_the_file_opens_as_columns() -> None:
    content = csv_bytes(["Namn", "Anteckning"], [["Åsa; Öberg", "=1+1"]])
    assert content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))
    assert rows == [["Namn", "Anteckning"], ["Åsa; Öberg", "'=1+1"]]
