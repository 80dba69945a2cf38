"""Open the built book in headless Chromium: pages load without console errors, plotly figures draw,
internal links resolve. Runs with no network: plotly.js must come from the book's own _static."""
import functools
import http.server
import shutil
import threading
from pathlib import Path
from urllib.parse import urljoin, urlparse

import pytest

from lab.publish import book, runner

HTML = runner.BOOK / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (make test installs it)")]
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps"]


@pytest.fixture(scope="module")
def site():
    if not (HTML / "index.html").exists():
        book.build_html(log=lambda *_: None)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(HTML))
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


def chapter_pages() -> list[str]:
    return [f"{entry}.html" for entry in book.toc_files()]


@pytest.mark.parametrize("page", chapter_pages())
def test_page_loads_without_errors_and_figures_draw(site, browser, page):
    tab = browser.new_page()
    errors, outside = [], []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.on("request", lambda r: outside.append(r.url) if not r.url.startswith((site, "data:", "blob:")) else None)
    response = tab.goto(urljoin(site, page), wait_until="load")
    assert response.status == 200
    figures = tab.locator(".js-plotly-plot").count()
    if figures:
        tab.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {figures}",
                              timeout=20000)
        # plotly.js processed each figure's data, laid it out and drew its traces
        drawn = tab.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot')).map(d => "
                             "(d.data || []).length > 0 && !!d._fullLayout && "
                             "d.querySelectorAll('g.trace, g.hm, g.imagelayer image').length > 0)")
        assert all(drawn), f"a plotly figure drew no data: {drawn}"
    links = tab.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    tab.close()
    assert errors == [], errors
    assert outside == [], f"the page asked the network for {outside}"
    for link in links:
        url = urlparse(link)
        if link.startswith(site) and url.path.endswith(".html"):
            assert (HTML / url.path.lstrip("/")).exists(), f"broken internal link {link}"


def test_the_model_chapter_has_an_interactive_figure(site, browser):
    tab = browser.new_page()
    tab.goto(urljoin(site, "book/p0_models_assets.html"), wait_until="load")
    assert tab.locator(".js-plotly-plot").count() >= 1
    # interactive: plotly attached its event layer and modebar
    tab.wait_for_selector(".js-plotly-plot .modebar", state="attached", timeout=20000)
    tab.close()


@pytest.mark.parametrize("page", ["book/p9_claims_ledger.html", "book/p9_negative_findings.html"])
def test_every_evidence_link_of_the_ledger_lands_on_its_section(site, browser, page):
    tab = browser.new_page()
    tab.goto(urljoin(site, page), wait_until="load")
    links = tab.evaluate("Array.from(document.querySelectorAll('table.claims-ledger a[href]')).map(a => a.href)")
    assert links, "the ledger shows no evidence links"
    for link in sorted(set(links)):
        target = browser.new_page()
        target.goto(link, wait_until="load")
        fragment = urlparse(link).fragment
        assert target.locator(f"[id='{fragment}']").count() == 1, f"{link}: no section with id {fragment!r}"
        target.close()
    tab.close()
