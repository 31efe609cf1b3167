"""Fixtures for the browser-source page tests: headless Debian Chromium driven by Playwright,
the real ``PageServer`` and a tiny test-only WebSocket "engine" that speaks schema 1.

The tests are skipped (with the reason) only when /usr/bin/chromium, the ``playwright`` Python
package or the built page (``cd web && npm ci && npm run build``) is missing. No browser is ever
downloaded: Playwright drives the system Chromium through ``executable_path``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.support import FakeEngine, Page, free_port
from vtuber.web.server import DIST_DIR, PageServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # WebGL on the CPU, so three.js renders without a GPU
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives the browser-source page in headless Chromium"
    )


def _skip_reason() -> str | None:
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        return "no /usr/bin/chromium (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright; no browser download needed)"
    if not (DIST_DIR / "index.html").is_file() or not (DIST_DIR / "assets" / "main.js").is_file():
        return f"the page is not built in {DIST_DIR} (cd web && npm ci && npm run build)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _skip_reason()
    if reason is None:
        return
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def page_server() -> Iterator[PageServer]:
    server = PageServer(port=0, ws_url="ws://127.0.0.1:9").start()
    yield server
    server.close()


@pytest.fixture()
def engine() -> Iterator[FakeEngine]:
    e = FakeEngine(free_port()).start()
    yield e
    e.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def open_page(browser: Any, page_server: PageServer) -> Iterator[Callable[..., Page]]:
    pages: list[Page] = []

    def opener(query: str = "") -> Page:
        p = Page(browser, page_server.url + query)
        pages.append(p)
        return p

    yield opener
    for p in pages:
        p.close()
