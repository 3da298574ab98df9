"""Playwright on Debian's Chromium (never `playwright install`), against pytest-django's live server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (.ci/run does)")
    # Playwright's sync API keeps an event loop in this thread; the test body still talks to the database
    # synchronously, which Django otherwise refuses while a loop is running.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(autouse=True)
def reference_data(transactional_db: None) -> None:
    """Regions and the catalogue, as the data migrations load them.

    A live-server test is transactional, and the database is emptied after each one; the serialized
    rollback that would restore migration data does not survive Playwright's event loop in this thread.
    """
    from django.apps import apps

    from ympa.catalog.reference import load_catalog
    from ympa.orgs.reference import load_regions

    if not apps.get_model("orgs", "Region").objects.exists():
        load_regions(apps.get_model("orgs", "Region"), apps.get_model("orgs", "Municipality"))
        load_catalog(apps.get_model("catalog", "Disease"), apps.get_model("catalog", "Product"))
