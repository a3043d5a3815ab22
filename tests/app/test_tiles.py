"""Vector (MVT) and raster (PNG) tiles through the real HTTP stack on the real store.

Expected tile contents are computed independently: deposits whose points fall in the
tile's bounds (morecantile + geopandas), DEM values read with rasterio at the pixel's
location, colours from rio-tiler's colormap table.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import mapbox_vector_tile
import morecantile
import numpy as np
import pytest
import rasterio
import shapely
import shapely.geometry
from fastapi.testclient import TestClient
from pyproj import Transformer
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import MemoryFile
from rio_tiler.colormap import cmap

from app.collections import STATUS_PRIORITY
from app.main import create_app
from app.settings import Settings
from layers.store import Store, deposit_sites

TMS = morecantile.tms.get("WebMercatorQuad")
KLAMATH = TMS.tile(-123.0, 41.3, 8)
OCEAN = TMS.tile(-130.0, 38.0, 8)
BLACK_BEAR = (-122.51081, 40.55707)
DEM = "srtm_big_tujunga"
DEM_EDGE = TMS.tile(-118.35, 34.32, 11)  # the DEM's west edge runs through this tile


def _url(collection: str, tile: morecantile.Tile) -> str:
    return f"/collections/{collection}/tiles/WebMercatorQuad/{tile.z}/{tile.x}/{tile.y}"


def _deposits_in(store: Store, tile: morecantile.Tile, pad_fraction: float = 0.0) -> set[str]:
    deposits = deposit_sites(store).to_crs(3857)
    left, bottom, right, top = TMS.xy_bounds(tile)
    pad = (right - left) * pad_fraction
    inside = deposits.cx[left - pad : right + pad, bottom - pad : top + pad]
    return set(inside["id"])


def _decode(content: bytes) -> list[dict]:
    return mapbox_vector_tile.decode(content)["deposits"]["features"]


@pytest.fixture(scope="module")
def unthinned(app_settings: Settings) -> Iterator[TestClient]:
    """The app with point tiles never thinned (``full_points_zoom`` 0): tiles hold every
    deposit, so their contents can be checked against the store."""
    with TestClient(create_app(app_settings.model_copy(update={"full_points_zoom": 0}))) as c:
        yield c


def test_klamath_tile_holds_the_deposits_inside_it(
    unthinned: TestClient, real_store: Store, app_settings: Settings
) -> None:
    response = unthinned.get(_url("deposits", KLAMATH))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    features = _decode(response.content)
    ids = {f["properties"]["id"] for f in features}
    inside = _deposits_in(real_store, KLAMATH)
    buffered = _deposits_in(real_store, KLAMATH, app_settings.mvt_buffer / app_settings.mvt_extent)
    assert len(inside) > 100
    assert inside <= ids <= buffered
    kept, matched = response.headers["Fedmin-Tile-Features"].split("/")
    assert int(kept) == int(matched) == len(ids)
    # small properties only, and positions in tile units where the deposit lies
    first = next(f for f in features if f["properties"]["id"] in inside)
    assert set(first["properties"]) <= {
        "id",
        "name",
        "primary_commodity",
        "dev_status",
        "critical",
        "agency",
        "mineral_entry",
        "n_records",
    }
    deposits = deposit_sites(real_store).set_index("id")
    point = deposits.loc[first["properties"]["id"]].geometry
    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(point.x, point.y)
    left, bottom, right, top = TMS.xy_bounds(KLAMATH)
    expected = [(x - left) / (right - left) * 4096, (y - bottom) / (top - bottom) * 4096]
    assert np.allclose(first["geometry"]["coordinates"], expected, atol=1.0)


def test_filtered_tile(unthinned: TestClient, real_store: Store) -> None:
    response = unthinned.get(_url("deposits", KLAMATH), params={"commodity": "chromium"})
    ids = {f["properties"]["id"] for f in _decode(response.content)}
    deposits = deposit_sites(real_store)
    chromium = set(deposits.loc[deposits["commodities"].map(lambda c: "chromium" in c), "id"])
    inside = _deposits_in(real_store, KLAMATH) & chromium
    assert inside and inside <= ids <= chromium


def test_polygon_tiles_are_valid_and_wound_for_mvt(client: TestClient) -> None:
    """Exterior rings clockwise in MVT's y-down space: counter-clockwise once decoded (y up)."""
    content = client.get("/collections/federal_lands/tiles/WebMercatorQuad/5/5/12").content
    features = mapbox_vector_tile.decode(content)["federal_lands"]["features"]
    polygons = [shapely.geometry.shape(f["geometry"]) for f in features]
    assert len(polygons) > 100
    rings = [p for g in polygons for p in shapely.get_parts(g)]
    assert all(shapely.is_valid(rings))
    assert all(ring.exterior.is_ccw for ring in rings)


def test_crowded_tile_keeps_the_best_features(
    unthinned: TestClient, app_settings: Settings
) -> None:
    """Over max_features_per_tile: the producers first, the same way every time."""
    everything = _decode(unthinned.get(_url("deposits", KLAMATH)).content)
    limited = app_settings.model_copy(update={"max_features_per_tile": 50, "full_points_zoom": 0})
    with TestClient(create_app(limited)) as small:
        response = small.get(_url("deposits", KLAMATH))
        again = small.get(_url("deposits", KLAMATH), headers={"Cache-Control": "no-cache"})
    assert response.headers["Fedmin-Tile-Features"] == f"50/{len(everything)}"
    kept = _decode(response.content)
    assert len(kept) == 50 and again.content == response.content
    order = {s: i for i, s in enumerate(STATUS_PRIORITY)}
    kept_ids = {f["properties"]["id"] for f in kept}
    worst_kept = max(order[f["properties"]["dev_status"]] for f in kept)
    dropped = [f for f in everything if f["properties"]["id"] not in kept_ids]
    assert all(order[f["properties"]["dev_status"]] >= worst_kept for f in dropped)


def test_point_tiles_are_thinned_below_full_points_zoom(
    client: TestClient, unthinned: TestClient, app_settings: Settings
) -> None:
    """At zoom 8 a deposit tile keeps ``max_points_per_tile`` points, producers first (a
    national view draws a few thousand markers); from ``full_points_zoom`` on, all."""
    everything = _decode(unthinned.get(_url("deposits", KLAMATH)).content)
    response = client.get(_url("deposits", KLAMATH))
    limit = app_settings.max_points_per_tile
    assert len(everything) > limit
    assert response.headers["Fedmin-Tile-Features"] == f"{limit}/{len(everything)}"
    kept = _decode(response.content)
    order = {s: i for i, s in enumerate(STATUS_PRIORITY)}
    kept_ids = {f["properties"]["id"] for f in kept}
    worst_kept = max(order[f["properties"]["dev_status"]] for f in kept)
    dropped = [f for f in everything if f["properties"]["id"] not in kept_ids]
    assert all(order[f["properties"]["dev_status"]] >= worst_kept for f in dropped)
    near = TMS.tile(-123.0, 41.3, app_settings.full_points_zoom)
    full = client.get(_url("deposits", near)).headers["Fedmin-Tile-Features"].split("/")
    assert full[0] == full[1]
    # other geometry is never thinned by the point budget (claims: 2,800 parcels in 4 tiles)
    claims = client.get(_url("claims", TMS.tile(-122.5, 40.6, 6))).headers["Fedmin-Tile-Features"]
    assert int(claims.split("/")[0]) == int(claims.split("/")[1]) > limit


def test_empty_tile_over_the_ocean_is_204(client: TestClient) -> None:
    response = client.get(_url("deposits", OCEAN))
    assert response.status_code == 204 and response.content == b""
    assert response.headers["ETag"]


def test_etag_and_304(client: TestClient) -> None:
    url = _url("federal_lands", KLAMATH)
    first = client.get(url, params={"agency": "USFS"})
    assert first.status_code == 200 and "max-age=" in first.headers["Cache-Control"]
    etag = first.headers["ETag"]
    again = client.get(url, params={"agency": "USFS"}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = client.get(url, params={"agency": "NPS"}, headers={"If-None-Match": etag})
    assert other.headers["ETag"] != etag and other.status_code in (200, 204)
    assert client.get(url.replace(f"/{KLAMATH.y}", f"/{KLAMATH.y}.mvt")).status_code == 200


def test_tilejson_keeps_the_filters(client: TestClient) -> None:
    doc = client.get(
        "/collections/deposits/tiles/WebMercatorQuad/tilejson.json", params={"commodity": "gold"}
    ).json()
    assert doc["tilejson"] == "3.0.0"
    assert doc["tiles"][0].endswith("/deposits/tiles/WebMercatorQuad/{z}/{x}/{y}?commodity=gold")
    assert doc["vector_layers"][0]["id"] == "deposits"
    assert doc["vector_layers"][0]["fields"]["critical"] == "Boolean"


@pytest.mark.parametrize(
    ("url", "status", "reason"),
    [
        ("/collections/deposits/tiles/WebMercatorQuad/30/0/0", 404, "zoom 30 is not served"),
        ("/collections/deposits/tiles/WebMercatorQuad/8/256/0", 404, "x and y lie in 0..255"),
        ("/collections/deposits/tiles/WebMercatorQuad/8/0/-1", 404, "x and y lie in 0..255"),
        ("/collections/deposits/tiles/WebMercatorQuad/8/a/0", 422, "valid integer"),
        ("/collections/deposits/tiles/WorldCRS84Quad/8/0/0", 404, "unknown tile matrix set"),
        ("/collections/nope/tiles/WebMercatorQuad/8/0/0", 404, "unknown collection"),
        ("/collections/deposits/tiles/WebMercatorQuad/8/40/95?commodity=xx", 400, "unknown"),
        ("/collections/roads/tiles/WebMercatorQuad/8/40/95?state=CA", 400, "does not take"),
        ("/rasters/nope/tiles/WebMercatorQuad/8/40/95.png", 404, "unknown raster 'nope'"),
        (f"/rasters/{DEM}/tiles/WebMercatorQuad/8/40/95.png?commodity=gold", 400, "does not"),
        (f"/rasters/{DEM}/tiles/WebMercatorQuad/17/0/0.png", 404, "zoom 17 is not served"),
    ],
)
def test_bad_tile_requests(client: TestClient, url: str, status: int, reason: str) -> None:
    response = client.get(url)
    assert response.status_code == status, response.text
    assert reason in str(response.json()["detail"])


# --- rasters -----------------------------------------------------------------------------


def _png(content: bytes) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a tile PNG has no transform
        with MemoryFile(content) as memory, memory.open() as image:
            assert image.driver == "PNG"
            return image.read()


def _pixel_lonlat(tile: morecantile.Tile, row: int, col: int) -> tuple[float, float]:
    left, bottom, right, top = TMS.xy_bounds(tile)
    x = left + (col + 0.5) * (right - left) / 256
    y = top - (row + 0.5) * (top - bottom) / 256
    return Transformer.from_crs(3857, 4326, always_xy=True).transform(x, y)


def test_dem_tile_is_a_transparent_edged_colormapped_png(
    client: TestClient, real_store: Store
) -> None:
    style = client.get(f"/rasters/{DEM}/tiles/WebMercatorQuad/tilejson.json").json()
    vmin, vmax = style["fedmin:style"]["rescale"]
    assert style["fedmin:style"]["colormap"] == "terrain"
    t = DEM_EDGE
    response = client.get(f"/rasters/{DEM}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    rgba = _png(response.content)
    assert rgba.shape == (4, 256, 256)
    alpha = rgba[3]
    assert (alpha == 0).any() and (alpha == 255).any()  # off the DEM's edge / on it
    assert (alpha[:, 0] == 0).all()  # the tile's west column lies west of the DEM

    # The colour of an opaque pixel is the colormap entry of the DEM value there.
    rows, cols = np.nonzero(alpha == 255)
    row, col = int(rows[len(rows) // 2]), int(cols[len(cols) // 2])
    lon, lat = _pixel_lonlat(t, row, col)
    with rasterio.open(real_store.raster_path(DEM)) as dem:
        x, y = Transformer.from_crs(4326, dem.crs, always_xy=True).transform(lon, lat)
        r, c = dem.index(x, y)
        window = dem.read(1, window=((r - 3, r + 4), (c - 3, c + 4)))  # resampling slack
    table = np.array([cmap.get("terrain")[i][:3] for i in range(256)], dtype=float)
    found = int(np.argmin(((table - rgba[:3, row, col].astype(float)) ** 2).sum(axis=1)))
    low, high = ((np.array([window.min(), window.max()]) - vmin) / (vmax - vmin) * 255).round()
    assert low - 2 <= found <= high + 2


def test_dem_tile_off_the_raster_is_204(client: TestClient) -> None:
    t = TMS.tile(-100.0, 40.0, 11)
    response = client.get(f"/rasters/{DEM}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png")
    assert response.status_code == 204


def test_prospectivity_over_black_bear(client: TestClient) -> None:
    t = TMS.tile(*BLACK_BEAR, 9)
    url = f"/rasters/prospectivity/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png"
    response = client.get(url, params={"commodity": "gold"})
    assert response.status_code == 200
    rgba = _png(response.content)
    left, bottom, right, top = TMS.xy_bounds(t)
    x, y = Transformer.from_crs(4326, 3857, always_xy=True).transform(*BLACK_BEAR)
    col = int((x - left) / (right - left) * 256)
    row = int((top - y) / (top - bottom) * 256)
    assert rgba[3, row, col] == 255
    doc = client.get(
        "/rasters/prospectivity/tiles/WebMercatorQuad/tilejson.json", params={"commodity": "gold"}
    ).json()
    west, south, east, north = doc["bounds"]
    # national gold reaches the Aleutians: bounds across the antimeridian have west > east
    lon = BLACK_BEAR[0]
    assert (west < lon < east) if west < east else (lon > west or lon < east)
    assert south < BLACK_BEAR[1] < north
    assert doc["tiles"][0].endswith("{z}/{x}/{y}.png?commodity=gold")
    # A filter no deposit matches leaves nothing to draw (Hawaii's 37 sites hold no gold).
    assert client.get(url, params={"commodity": "gold", "state": "HI"}).status_code == 204


@pytest.mark.parametrize(
    "collection_id", ["deposits", "federal_lands", "roads", "counties", "claims", "ranked_cells"]
)
def test_tile_encoder_matches_mapbox_vector_tile(client: TestClient, collection_id: str) -> None:
    """The numpy/protobuf encoder decodes to what GEOS + ``mapbox_vector_tile.encode``
    give, over tiles at z4..z14 around features of every kind of geometry (the same
    bytes, except where the library merges an int and an equal float value)."""
    from app.encoders import mvt

    settings = client.app.state.settings
    coll = client.app.state.serving.current.collections.get(collection_id)
    extent, buffer = settings.mvt_extent, settings.mvt_buffer
    if coll.is_points:  # tiles from the points' Mercator x/y: no trees, no geometries
        assert coll.tree is None and coll.tree_3857 is None
        projected = shapely.get_coordinates(coll.frame.geometry.to_crs(3857).to_numpy())
        assert np.array_equal(shapely.get_coordinates(coll.geoms_3857), projected)
    rng = np.random.default_rng(7)
    compared = 0
    for row in rng.choice(len(coll), size=min(len(coll), 25), replace=False):
        point = shapely.point_on_surface(coll.geoms[row])
        tile = TMS.tile(point.x, point.y, int(rng.integers(4, 15)))
        bounds = tuple(TMS.xy_bounds(tile))
        pad = (bounds[2] - bounds[0]) / extent * buffer
        padded = (bounds[0] - pad, bounds[1] - pad, bounds[2] + pad, bounds[3] + pad)
        positions = np.flatnonzero(shapely.intersects(coll.geoms_3857, shapely.box(*padded)))
        geoms = coll.geoms_3857[positions]
        rows = [coll.properties(i) | {"id": coll.ids[i]} for i in positions.tolist()]
        keys = coll.tile_attributes.keys
        records = [{k: r[k] for k in keys if r.get(k) is not None} for r in rows]
        new = coll.encode_tile(positions, coll.tile_attributes, bounds, extent, buffer)
        old = mvt.encode_tile_reference(collection_id, geoms, records, bounds, extent, buffer)
        assert (new is None) == (old is None)
        if new is not None and new != old:
            assert mapbox_vector_tile.decode(new) == mapbox_vector_tile.decode(old)
        compared += new is not None
    assert compared > 0


def test_surfaces_are_computed_once_per_filter_and_bounded_on_disk(data_dir) -> None:
    """Every tile of a filter reuses one evidence computation and one COG; a 1-byte disk
    budget keeps only the newest surface, and an evicted filter is computed again."""
    settings = Settings(
        data_dir=data_dir,
        offline=True,
        tile_cache_bytes=0,  # every request renders: nothing hides a recomputation
        prospectivity_cache_bytes=1,
        prospectivity_prewarm=False,
    )
    t = TMS.tile(*BLACK_BEAR, 9)
    tiles = [t, *TMS.children(t)]
    url = "/rasters/prospectivity/tiles/WebMercatorQuad/{}/{}/{}.png"
    with TestClient(create_app(settings)) as client:
        snapshot = client.app.state.serving.current
        engine, registry = snapshot.engine, snapshot.rasters
        before = engine.stats["evidence"]
        for tile in tiles:
            response = client.get(url.format(tile.z, tile.x, tile.y), params={"commodity": "gold"})
            assert response.status_code == 200
            assert _png(response.content)[3].any()  # drawn pixels, not an empty PNG
        assert engine.stats["evidence"] - before == 1
        (gold,) = [path for _, _, path in registry.surfaces.files()]
        with rasterio.open(gold) as src:
            assert src.overviews(1)  # a COG with overviews
            assert src.tags()["filter"].find("gold") >= 0
        copper_tile = client.get(url.format(t.z, t.x, t.y), params={"commodity": "copper"})
        assert copper_tile.status_code in (200, 204)  # the surface exists either way
        (copper,) = [path for _, _, path in registry.surfaces.files()]
        assert copper != gold and not gold.exists() and registry.surfaces.evicted >= 1
        response = client.get(url.format(t.z, t.x, t.y), params={"commodity": "gold"})
        assert response.status_code == 200 and gold.exists()


def test_default_surface_is_prewarmed_at_start(data_dir) -> None:
    settings = Settings(data_dir=data_dir, offline=True, prospectivity_prewarm=True)
    with TestClient(create_app(settings)) as client:
        registry = client.app.state.serving.current.rasters
        assert registry.warmed.wait(300)
        assert registry._resolved.stats["surfaces.miss"] == 1
        t = TMS.tile(*BLACK_BEAR, 7)
        url = f"/rasters/prospectivity/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}.png"
        assert client.get(url).status_code == 200
        assert registry._resolved.stats["surfaces.hit"] >= 1  # cut from the prewarmed COG
        assert registry._resolved.stats["surfaces.miss"] == 1
