"""Browser tests run against pytest-django's live server; the browser and page fixtures are the root
conftest's (one browser per test process)."""

from __future__ import annotations

import pytest

from conftest import load_reference_data


@pytest.fixture(autouse=True)
def reference_data(transactional_db: None) -> None:
    load_reference_data()
