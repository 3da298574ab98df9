"""Swedish first: every text the product shows has a Swedish translation that is not marked fuzzy."""

from __future__ import annotations

import re
from pathlib import Path

PO = Path(__file__).resolve().parents[2] / "locale" / "sv" / "LC_MESSAGES" / "django.po"


def _entries() -> list[str]:
    return [block for block in PO.read_text(encoding="utf-8").split("\n\n") if "msgid" in block]


def _strings(block: str, keyword: str) -> list[str]:
    found = re.findall(rf'^{keyword} ((?:".*"\n?)+)', block + "\n", flags=re.M)
    return ["".join(re.findall(r'"((?:[^"\\]|\\.)*)"', part)) for part in found]


def test_no_fuzzy_or_untranslated_swedish_messages() -> None:
    problems = []
    for block in _entries():
        msgid = "".join(_strings(block, "msgid"))
        if not msgid:
            continue
        if re.search(r"^#,.*\bfuzzy\b", block, flags=re.M):
            problems.append(f"fuzzy: {msgid}")
        translations = _strings(block, r"msgstr(?:\[\d\])?")
        if not translations or any(not t for t in translations):
            problems.append(f"untranslated: {msgid}")
    assert problems == []


def test_placeholders_survive_translation() -> None:
    for block in _entries():
        msgid = "".join(_strings(block, "msgid"))
        for translation in _strings(block, r"msgstr(?:\[\d\])?"):
            assert set(re.findall(r"%\(\w+\)[sd]", msgid)) == set(re.findall(r"%\(\w+\)[sd]", translation)), (
                msgid
            )
