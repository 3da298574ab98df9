"""CSV files for Swedish spreadsheets: what Excel with Swedish settings opens as columns, safe to open.

Semicolons between fields and a UTF-8 byte order mark. A cell that starts like a formula (= + - @, a tab or a
carriage return) gets a leading apostrophe, so that a name or a reason typed into Ympa cannot run as a
formula in the spreadsheet that opens the file (CSV injection); numbers such as phone numbers (+46 70 …)
are left as they are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

from django.http import HttpResponse

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"\+?[\d\s-]+")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_bytes(header: Iterable[object], rows: Iterable[Iterable[object]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow([cell(value) for value in header])
    writer.writerows([cell(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8-sig")


def csv_download(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
