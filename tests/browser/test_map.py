"""The map in a real browser: offline, layered, searchable, re-rankable, exportable.

One page is loaded for the module (see conftest) and the tests run in file order on it;
each restores what it changes. A screenshot with every data layer on is saved to
``artifacts/screenshots/map.png`` for a person to look at.
"""

from __future__ import annotations

from pathlib import Path

import pyogrio
import pytest
from playwright.sync_api import Page

from app.map.page import LAYERS
from tests.browser.conftest import Traffic

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = REPO / "artifacts" / "screenshots" / "map.png"
BLACK_BEAR = "mrds:10034372"
TIMEOUT_MS = 60_000


@pytest.fixture(scope="module")
def loaded(page: Page, live_server: str, traffic: Traffic) -> Page:
    """The map page, loaded, with its first ranking drawn and its tiles fetched."""
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(f"{live_server}/map", wait_until="load")
    page.wait_for_function("() => window.fedmin && fedmin.state && fedmin.state.ranking")
    page.wait_for_load_state("networkidle")
    return page


def _status_ok(page: Page) -> None:
    page.wait_for_selector("#fedmin-status.ok")


def _paths_in_pane(page: Page, pane: str) -> int:
    return page.evaluate(
        "(pane) => document.querySelectorAll(`.leaflet-${pane}-pane path`).length", pane
    )


def _ranking(page: Page) -> list[tuple[str, float]]:
    return page.evaluate(
        """() => fedmin.state.ranking.features.map(
            (f) => [String(f.properties.id ?? f.id), Number(f.properties.score)])"""
    )


def test_page_loads_offline_without_errors(loaded: Page, traffic: Traffic) -> None:
    assert traffic.external == [], f"requests left 127.0.0.1: {traffic.external[:5]}"
    assert traffic.page_errors == [], traffic.page_errors
    assert traffic.console_errors == [], traffic.console_errors
    assert traffic.matching("/map/vendor/leaflet/leaflet.js")
    assert traffic.matching("/map/vendor/leaflet.vectorgrid/")
    _status_ok(loaded)


def test_layer_control_lists_every_layer_and_layers_are_drawn(
    loaded: Page, traffic: Traffic
) -> None:
    labels = loaded.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    labels = [text.strip() for text in labels]
    for spec in LAYERS:
        assert spec.title in labels
    for spec in LAYERS:
        if spec.factory == "vectorTiles" and spec.show:
            collection = spec.options["url"].split("/")[2]
            assert traffic.matching(f"/collections/{collection}/tiles/"), collection
    assert traffic.matching("/rasters/prospectivity/tiles/")
    assert traffic.matching("/rankings?")
    for pane in ("fedmin-deposits", "fedmin-lands", "fedmin-boundaries", "fedmin-lines"):
        assert _paths_in_pane(loaded, pane) > 0, f"nothing drawn in {pane}"
    cells = loaded.evaluate("() => fedmin.layer('ranked_cells').getLayers().length")
    assert cells == len(_ranking(loaded)) > 0
    assert _paths_in_pane(loaded, "fedmin-cells") == cells
    assert loaded.locator("#fedmin-legend section").count() >= 6


def test_search_finds_black_bear_and_its_popup(loaded: Page) -> None:
    loaded.fill("#fedmin-search", "Black Bear")
    hit = loaded.locator(f'#fedmin-search-results a[data-deposit-id="{BLACK_BEAR}"]')
    hit.wait_for()
    hit.click()
    popup = loaded.locator(f'.fedmin-deposit-popup[data-deposit-id="{BLACK_BEAR}"]')
    popup.wait_for()
    text = popup.inner_text()
    assert "Black Bear" in text
    assert "past producer" in popup.locator(".fedmin-dev-status").inner_text()
    assert "gold" in text
    api_link = popup.locator("a", has_text="API record").get_attribute("href")
    assert api_link.endswith(f"/collections/deposits/items/{BLACK_BEAR}".replace(":", "%3A"))
    source = popup.locator("a", has_text="source record").get_attribute("href")
    assert source.startswith("https://mrdata.usgs.gov/")
    loaded.evaluate("() => fedmin.map.closePopup()")
    loaded.fill("#fedmin-search", "")


def _idle(page: Page) -> None:
    """Wait until no zoom runs and every tile layer on the map has drawn its tiles."""
    page.wait_for_timeout(300)  # let a view change start its tile requests
    page.wait_for_function("() => fedmin.isIdle()")


def test_clicking_a_drawn_deposit_opens_its_record(loaded: Page) -> None:
    _idle(loaded)
    point = loaded.evaluate(
        """() => {
            for (const path of document.querySelectorAll('.leaflet-fedmin-deposits-pane path')) {
                const r = path.getBoundingClientRect();
                const x = r.x + r.width / 2, y = r.y + r.height / 2;
                if (r.width > 0 && document.elementFromPoint(x, y) === path) return [x, y];
            }
            return null;
        }"""
    )
    assert point, "no deposit drawn in the open part of the map"
    loaded.mouse.click(*point)
    popup = loaded.locator(".fedmin-deposit-popup")
    popup.wait_for()
    assert popup.locator("h3").inner_text().strip()
    loaded.evaluate("() => fedmin.map.closePopup()")


def test_unticking_a_layer_hides_it(loaded: Page) -> None:
    title = next(spec.title for spec in LAYERS if spec.key == "deposits")
    checkbox = loaded.locator(".leaflet-control-layers-overlays label", has_text=title).locator(
        "input"
    )
    assert _paths_in_pane(loaded, "fedmin-deposits") > 0
    checkbox.uncheck()
    assert loaded.evaluate("() => fedmin.map.hasLayer(fedmin.layer('deposits'))") is False
    assert _paths_in_pane(loaded, "fedmin-deposits") == 0
    legend = loaded.locator('#fedmin-legend section[data-legend="deposits"]')
    assert "off" in legend.get_attribute("class")
    checkbox.check()
    loaded.wait_for_function(
        "() => document.querySelectorAll('.leaflet-fedmin-deposits-pane path').length > 0"
    )


def _set_weights(page: Page, value_of_el: str) -> None:
    """Move every weight slider to the JS expression ``value_of_el`` (``el``: the slider)."""
    page.evaluate(
        f"""() => document.querySelectorAll('.fedmin-weights input[type=range]').forEach((el) => {{
            el.value = String({value_of_el});
            el.dispatchEvent(new Event('input'));
        }})"""
    )


def _rerank(page: Page) -> None:
    """Press "Apply" and wait for the new ranking to be drawn."""
    requests = page.evaluate("() => fedmin.state.requestId")
    page.click("#fedmin-apply")
    page.wait_for_function(f"() => fedmin.state.requestId > {requests}")
    _status_ok(page)


def test_changing_weights_reranks_the_cells(loaded: Page) -> None:
    before = _ranking(loaded)
    _set_weights(loaded, "el.dataset.component === 'access' ? 1 : 0")
    _rerank(loaded)
    after = _ranking(loaded)
    assert after and before != after
    weights = loaded.evaluate("() => fedmin.state.ranking")
    assert weights  # the redrawn layer holds the new cells
    drawn = loaded.evaluate(
        "() => fedmin.layer('ranked_cells').getLayers().map((l) => l.feature.properties.score)"
    )
    assert drawn == pytest.approx([score for _, score in after])
    href = loaded.get_attribute('#fedmin-exports a[data-format="csv"]', "href")
    assert "access%3A1" in href or "access:1" in href
    _set_weights(loaded, "fedmin.config.weights[el.dataset.component]")  # restore
    _rerank(loaded)
    assert _ranking(loaded) == before


@pytest.mark.parametrize("fmt", ["gpkg", "csv"])
def test_export_button_downloads_a_file_gdal_reads(loaded: Page, fmt: str, tmp_path: Path) -> None:
    with loaded.expect_download(timeout=TIMEOUT_MS) as info:
        loaded.click(f'#fedmin-exports a[data-format="{fmt}"]')
    download = info.value
    assert download.failure() is None
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    frame = pyogrio.read_dataframe(target)
    assert len(frame) > 0


def test_screenshot_with_every_data_layer(loaded: Page, traffic: Traffic) -> None:
    """Every data layer on (not the optional web basemap), around the best cell."""
    loaded.evaluate(
        """() => {
            Object.entries(fedmin.layerByKey).forEach(([key, layer]) => {
                if (key !== 'osm' && !fedmin.map.hasLayer(layer)) fedmin.map.addLayer(layer);
            });
            const best = fedmin.layer('ranked_cells').getLayers()[0];
            fedmin.map.setView(best.getBounds().getCenter(), 9, { animate: false });
        }"""
    )
    _idle(loaded)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    loaded.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 20_000
    assert _paths_in_pane(loaded, "fedmin-claims") > 0
    assert traffic.external == []
    assert traffic.console_errors == [], traffic.console_errors


def test_commodity_filter_reaches_tiles_raster_and_ranking(loaded: Page, traffic: Traffic) -> None:
    """Last (changes the filter): 'critical minerals' filters deposits, surface and ranking."""
    loaded.select_option("#fedmin-commodity", "critical")
    _rerank(loaded)
    _idle(loaded)
    for path in ("/collections/deposits/tiles/", "/rasters/prospectivity/tiles/", "/rankings?"):
        assert any("commodity=critical" in url for url in traffic.matching(path)), path
    assert not any("commodity=" in url for url in traffic.matching("/collections/roads/tiles/"))
    href = loaded.get_attribute('#fedmin-exports a[data-format="gpkg"]', "href")
    assert "commodity=critical" in href
    assert traffic.console_errors == [], traffic.console_errors
