"""Tests of geo.rasters: prospectivity surfaces, zonal statistics and terrain per cell.

Synthetic inputs are named ``synthetic_*`` and built so their expected values can be
checked by hand; the real-data tests use a store built from the data mirror and skip when
it is absent.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import shapely
from pyproj import Geod, Transformer
from rasterio.transform import from_origin
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_validate

from geo import rasters
from layers.errors import DataError, InvalidParameterError, LimitExceededError

BLACK_BEAR = ("mrds:10034372", -122.51081, 40.55707)

# --- synthetic KDE: three points on pixel centres of a 100 m EPSG:5070 grid -------------
PIXEL_M = 100.0
BANDWIDTH_M = 500.0  # sigma = 5 pixels
SIGMA_PX = BANDWIDTH_M / PIXEL_M
# A pixel centre of the snapped grid (multiples of 100 m, centres at +50 m).
X0, Y0 = -2_000_050.0, 2_000_050.0
SYNTHETIC_POINTS_5070 = {
    "heavy": (X0, Y0, 3.0),
    "light": (X0 + 30_000, Y0, 1.0),  # 300 px east: kernels (20 px radius) never meet
    "zero": (X0, Y0 + 30_000, 0.0),  # weight 0: must leave no trace
}
_to_lonlat = Transformer.from_crs(5070, 4326, always_xy=True)
_from_lonlat = Transformer.from_crs(4326, 5070, always_xy=True)


def synthetic_deposits(points: dict[str, tuple[float, float, float]]) -> gpd.GeoDataFrame:
    """Synthetic deposits given in EPSG:5070 metres, returned in EPSG:4326 like the store's."""
    names = list(points)
    xs, ys, _ = (np.array(v) for v in zip(*points.values(), strict=True))
    lon, lat = _to_lonlat.transform(xs, ys)
    return gpd.GeoDataFrame({"name": names}, geometry=gpd.points_from_xy(lon, lat), crs=4326)


def synthetic_weights(points: dict[str, tuple[float, float, float]]) -> np.ndarray:
    return np.array([w for _, _, w in points.values()])


@pytest.fixture(scope="module")
def synthetic_surface(tmp_path_factory: pytest.TempPathFactory) -> rasters.RasterInfo:
    out = tmp_path_factory.mktemp("kde") / "synthetic.tif"
    return rasters.prospectivity_surface(
        synthetic_deposits(SYNTHETIC_POINTS_5070),
        synthetic_weights(SYNTHETIC_POINTS_5070),
        out,
        pixel_m=PIXEL_M,
        bandwidth_m=BANDWIDTH_M,
        tags={"filter": {"commodity": "gold"}, "build_id": "synthetic-build"},
    )


def _read(path: Path) -> tuple[np.ndarray, rasterio.Affine, dict]:
    with rasterio.open(path) as src:
        return src.read(1), src.transform, src.profile


def _pixel(transform: rasterio.Affine, x: float, y: float) -> tuple[int, int]:
    col, row = ~transform @ (x, y)
    return math.floor(row), math.floor(col)


def test_kde_peak_is_at_the_heaviest_point_and_normalized(synthetic_surface) -> None:
    data, transform, _ = _read(synthetic_surface.path)
    assert synthetic_surface.max_value == 1.0
    assert data.max() == pytest.approx(1.0)
    peak = np.unravel_index(np.argmax(data), data.shape)
    assert peak == _pixel(transform, X0, Y0)
    # Same kernel, a third of the weight: a third of the peak.
    x, y, _ = SYNTHETIC_POINTS_5070["light"]
    assert data[_pixel(transform, x, y)] == pytest.approx(1 / 3, rel=1e-5)
    # Absolute peak: 3 / (2 pi sigma^2) per km2 with sigma = 0.5 km.
    expected_density = 3 / (2 * math.pi * (BANDWIDTH_M / 1000) ** 2)
    assert synthetic_surface.density_max_per_km2 == pytest.approx(expected_density, rel=1e-3)


def test_kde_falls_off_as_a_symmetric_gaussian(synthetic_surface) -> None:
    data, transform, _ = _read(synthetic_surface.path)
    r, c = _pixel(transform, X0, Y0)
    for k in range(1, 12):
        ring = [data[r, c + k], data[r, c - k], data[r + k, c], data[r - k, c]]
        assert np.allclose(ring, ring[0], rtol=1e-5)
        assert ring[0] == pytest.approx(math.exp(-(k**2) / (2 * SIGMA_PX**2)), rel=1e-4)
    # One sigma away along a diagonal (3-4-5) is exp(-1/2) too.
    assert data[r + 3, c + 4] == pytest.approx(math.exp(-0.5), rel=1e-4)
    assert data[r - 4, c - 3] == pytest.approx(math.exp(-0.5), rel=1e-4)
    # Beyond the 4-sigma truncation the heavy point adds exactly nothing.
    assert data[r, c + 21] == 0.0


def test_kde_zero_weight_point_contributes_nothing(synthetic_surface, tmp_path) -> None:
    data, transform, _ = _read(synthetic_surface.path)
    x, y, _ = SYNTHETIC_POINTS_5070["zero"]
    r, c = _pixel(transform, x, y)
    assert not data[r - 25 : r + 26, c - 25 : c + 26].any()
    # Moving the zero-weight point inside the same extent changes nothing at all.
    moved = dict(SYNTHETIC_POINTS_5070, zero=(X0 + 15_000, Y0 + 30_000, 0.0))
    other = rasters.prospectivity_surface(
        synthetic_deposits(moved),
        synthetic_weights(moved),
        tmp_path / "moved.tif",
        pixel_m=PIXEL_M,
        bandwidth_m=BANDWIDTH_M,
    )
    other_data, other_transform, _ = _read(other.path)
    assert other_transform == transform
    np.testing.assert_array_equal(other_data, data)


def test_kde_grid_extent_and_info(synthetic_surface) -> None:
    _, transform, profile = _read(synthetic_surface.path)
    pad = 3 * BANDWIDTH_M
    assert transform.c <= X0 - pad and transform.f >= Y0 + 30_000 + pad
    right = transform.c + profile["width"] * PIXEL_M
    bottom = transform.f - profile["height"] * PIXEL_M
    assert right >= X0 + 30_000 + pad and bottom <= Y0 - pad
    assert transform.c % PIXEL_M == 0 and transform.f % PIXEL_M == 0  # snapped lattice
    assert synthetic_surface.shape == (profile["height"], profile["width"])
    assert synthetic_surface.crs == "EPSG:5070"
    assert synthetic_surface.count == 3
    west, south, east, north = synthetic_surface.bounds
    lon, lat = synthetic_deposits(SYNTHETIC_POINTS_5070).geometry.total_bounds.reshape(2, 2).T
    assert west < lon[0] and east > lon[1] and south < lat[0] and north > lat[1]


def test_kde_file_is_a_valid_cog_with_overviews_and_tags(synthetic_surface) -> None:
    valid, errors, warnings = cog_validate(str(synthetic_surface.path), quiet=True)
    assert valid, errors
    assert not warnings
    with rasterio.open(synthetic_surface.path) as src:
        assert src.dtypes[0] == "float32"
        assert src.nodata == rasters.SURFACE_NODATA
        assert src.profile["tiled"] and src.block_shapes[0] == (256, 256)
        assert src.compression.name.lower() == "deflate"
        assert src.overviews(1) == [2]
        tags = src.tags()
    assert tags["KERNEL"] == "gaussian"
    assert float(tags["BANDWIDTH_M"]) == BANDWIDTH_M
    assert float(tags["PIXEL_M"]) == PIXEL_M
    assert tags["N_POINTS"] == "3" and tags["N_WEIGHTED_POINTS"] == "2"
    assert float(tags["DENSITY_MAX_PER_KM2"]) == pytest.approx(
        synthetic_surface.density_max_per_km2, rel=1e-6
    )
    assert json.loads(tags["filter"]) == {"commodity": "gold"}
    assert tags["build_id"] == "synthetic-build"


def test_kde_write_is_atomic(synthetic_surface, tmp_path, monkeypatch) -> None:
    out = tmp_path / "surface.tif"
    points = synthetic_deposits(SYNTHETIC_POINTS_5070)
    weights = synthetic_weights(SYNTHETIC_POINTS_5070)
    rasters.prospectivity_surface(points, weights, out, pixel_m=PIXEL_M, bandwidth_m=BANDWIDTH_M)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["surface.tif"]
    before = out.read_bytes()

    def broken_translate(src, dst, *args, **kwargs):
        Path(dst).write_bytes(b"half a tiff")
        raise RuntimeError("disk full")

    monkeypatch.setattr(rasters, "cog_translate", broken_translate)
    with pytest.raises(RuntimeError, match="disk full"):
        rasters.prospectivity_surface(points, weights * 2, out, pixel_m=PIXEL_M)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["surface.tif"]
    assert out.read_bytes() == before


def test_kde_all_zero_weights_is_an_empty_surface(tmp_path) -> None:
    points = synthetic_deposits(SYNTHETIC_POINTS_5070)
    info = rasters.prospectivity_surface(
        points, np.zeros(3), tmp_path / "zero.tif", pixel_m=500, bandwidth_m=2000
    )
    data, _, _ = _read(info.path)
    assert info.max_value == 0.0 and info.density_max_per_km2 == 0.0
    assert not data.any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"bandwidth_m": 0}, "bandwidth_m"),
        ({"bandwidth_m": -5000}, "bandwidth_m"),
        ({"bandwidth_m": float("nan")}, "bandwidth_m"),
        ({"pixel_m": 0}, "pixel_m"),
        ({"pixel_m": 20_000, "bandwidth_m": 5000}, "twice"),
        ({"pixel_m": 10, "bandwidth_m": 5000}, "coarser pixel"),
        ({"crs": "EPSG:4326"}, "metres"),
        ({"crs": "EPSG:999999"}, "unknown CRS"),
        ({"tags": {"kernel": "box"}}, "reserved"),
    ],
)
def test_kde_bad_parameters(tmp_path, kwargs, match) -> None:
    points = synthetic_deposits(SYNTHETIC_POINTS_5070)
    with pytest.raises(InvalidParameterError, match=match):
        rasters.prospectivity_surface(points, np.ones(3), tmp_path / "x.tif", **kwargs)
    assert not list(tmp_path.iterdir())


def test_kde_bad_inputs(tmp_path) -> None:
    points = synthetic_deposits(SYNTHETIC_POINTS_5070)
    out = tmp_path / "x.tif"
    with pytest.raises(InvalidParameterError, match="no points"):
        rasters.prospectivity_surface(points.iloc[:0], np.ones(0), out)
    with pytest.raises(InvalidParameterError, match="shape"):
        rasters.prospectivity_surface(points, np.ones(2), out)
    with pytest.raises(InvalidParameterError, match="non-negative"):
        rasters.prospectivity_surface(points, np.array([1.0, -1.0, 1.0]), out)
    with pytest.raises(InvalidParameterError, match="non-negative"):
        rasters.prospectivity_surface(points, np.array([1.0, np.inf, 1.0]), out)
    with pytest.raises(InvalidParameterError, match="Point"):
        polygons = points.set_geometry(points.to_crs(5070).buffer(100).to_crs(4326))
        rasters.prospectivity_surface(polygons, np.ones(3), out)
    with pytest.raises(LimitExceededError, match="pixels"):
        rasters.prospectivity_surface(points, np.ones(3), out, pixel_m=100, bandwidth_m=500,
                                      max_pixels=10_000)  # fmt: skip
    assert not out.exists()


def test_kde_alaska_points_take_their_own_crs(tmp_path, caplog) -> None:
    """Synthetic Alaskan points: logged as distorted in CONUS Albers, clean in 3338."""
    alaska = gpd.GeoDataFrame(
        geometry=gpd.points_from_xy([-147.7, -147.5, -149.9], [64.8, 64.9, 61.2]), crs=4326
    )
    with caplog.at_level("WARNING", logger="geo.rasters"):
        rasters.prospectivity_surface(alaska, np.ones(3), tmp_path / "ak_5070.tif")
    assert "3 of 3 points lie outside the area of use of EPSG:5070" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="geo.rasters"):
        info = rasters.prospectivity_surface(
            alaska, np.ones(3), tmp_path / "ak.tif", crs="EPSG:3338"
        )
    assert not caplog.text
    assert info.crs == "EPSG:3338" and info.max_value == 1.0
    with rasterio.open(info.path) as src:
        x, y = Transformer.from_crs(4326, 3338, always_xy=True).transform(-149.9, 61.2)
        assert next(src.sample([(x, y)]))[0] > 0.9


def test_fitting_pixel_coarsens_only_what_does_not_fit(tmp_path) -> None:
    """Synthetic points 3,000 km apart (a 1 km grid of about 9.1M pixels): under a 4M-pixel
    limit the pixel grows in 250 m steps to the first size that fits, and the surface
    then builds within the limit; under a generous limit it stays as asked."""
    points = synthetic_deposits(
        {"west": (-2_000_000.0, 1_000_000.0, 1.0), "east": (1_000_000.0, 4_000_000.0, 1.0)}
    )
    assert rasters.fitting_pixel_m(points, 1000, 5000, max_pixels=10_000_000) == 1000
    pixel = rasters.fitting_pixel_m(points, 1000, 5000, max_pixels=4_000_000)
    side = 3_000_000 + 2 * (rasters.PAD_BANDWIDTHS * 5000)  # before snapping, km-scale
    assert pixel == 1750  # (side / 1500)^2 = 4.03M > 4M; (side / 1750)^2 = 2.96M
    assert (side / 1500) ** 2 > 4_000_000 >= (side / pixel) ** 2
    info = rasters.prospectivity_surface(
        points, np.ones(2), tmp_path / "fit.tif", pixel_m=pixel, bandwidth_m=5000,
        max_pixels=4_000_000,
    )  # fmt: skip
    assert info.pixel_m == pixel and info.shape[0] * info.shape[1] <= 4_000_000
    with pytest.raises(LimitExceededError):
        rasters.prospectivity_surface(
            points, np.ones(2), tmp_path / "no.tif", pixel_m=1000, max_pixels=4_000_000
        )


def test_kde_rejects_unserializable_tags(tmp_path) -> None:
    points = synthetic_deposits(SYNTHETIC_POINTS_5070)
    with pytest.raises(InvalidParameterError, match="JSON"):
        rasters.prospectivity_surface(points, np.ones(3), tmp_path / "x.tif",
                                      tags={"f": object()})  # fmt: skip
    assert not list(tmp_path.iterdir())


def test_cache_path_is_deterministic(tmp_path) -> None:
    a = rasters.prospectivity_cache_path(
        tmp_path, {"commodity": "gold", "bandwidth_m": 5000, "build": "b1"}
    )
    b = rasters.prospectivity_cache_path(
        tmp_path, {"build": "b1", "bandwidth_m": np.int64(5000), "commodity": "gold"}
    )
    c = rasters.prospectivity_cache_path(
        tmp_path, {"commodity": "gold", "bandwidth_m": 10000, "build": "b1"}
    )
    assert a == b != c
    assert a.parent == tmp_path and a.suffix == ".tif"
    assert rasters.prospectivity_cache_path(tmp_path, {"s": {"b", "a"}}) == (
        rasters.prospectivity_cache_path(tmp_path, {"s": ["a", "b"]})
    )
    with pytest.raises(InvalidParameterError):
        rasters.prospectivity_cache_path(tmp_path, {"f": object()})


# --- real data: the session store built from the mirror (tests/conftest.py) ------------


def test_kde_on_real_mrds_gold(real_store, tmp_path) -> None:
    mrds = real_store.frame("mrds")
    gold = mrds[mrds["commodities"].map(lambda c: "gold" in list(c))]
    assert BLACK_BEAR[0] in set(gold["id"])
    weights = gold["dev_status"].map({"producer": 3.0, "past_producer": 2.0}).fillna(1.0)
    started = time.perf_counter()
    info = rasters.prospectivity_surface(
        gold,
        weights.to_numpy(),
        tmp_path / "gold.tif",
        tags={"filter": {"commodity": "gold"}, "build_id": real_store.build_id},
    )
    elapsed = time.perf_counter() - started
    assert elapsed < 10
    assert info.count == len(gold) and info.max_value == 1.0
    west, south, east, north = info.bounds
    lon_min, lat_min, lon_max, lat_max = gold.total_bounds
    assert west < lon_min and south < lat_min and east > lon_max and north > lat_max
    x, y = _from_lonlat.transform(BLACK_BEAR[1], BLACK_BEAR[2])
    with rasterio.open(info.path) as src:
        value = next(src.sample([(x, y)]))[0]
        assert src.tags()["build_id"] == real_store.build_id
    assert 0 < value <= 1
    assert cog_validate(str(info.path), quiet=True)[0]


@pytest.fixture(scope="module")
def real_dem(real_store) -> Path:
    return real_store.raster_path("srtm_big_tujunga")


def test_zonal_tiny_polygon_gives_the_pixel_value(real_dem) -> None:
    with rasterio.open(real_dem) as src:
        x, y = src.xy(300, 500)  # a pixel centre
        expected = float(next(src.sample([(x, y)]))[0])
        crs = src.crs
    box = shapely.box(x - 5, y - 5, x + 5, y + 5)
    # Given in lon/lat, so the reprojection to UTM is exercised too.
    zones = gpd.GeoDataFrame(geometry=[box], crs=crs).to_crs(4326)
    result = rasters.zonal_stats(real_dem, zones)
    assert result.loc[0, "mean"] == expected
    assert result.loc[0, "count"] == 1


def test_zonal_box_matches_numpy_over_the_same_window(real_dem) -> None:
    window = Window(200, 100, 90, 60)
    with rasterio.open(real_dem) as src:
        block = src.read(1, window=window, masked=True).astype("float64")
        left, bottom, right, top = rasterio.windows.bounds(window, src.transform)
        crs = src.crs
    zones = gpd.GeoDataFrame(
        geometry=[
            shapely.box(left, bottom, right, top),
            shapely.box(0, 0, 1000, 1000),  # far outside the tile
            None,
        ],
        index=["box", "outside", "missing"],
        crs=crs,
    )
    result = rasters.zonal_stats(real_dem, zones, stats=("mean", "min", "max", "count", "std"))
    assert list(result.index) == ["box", "outside", "missing"]
    assert result.loc["box", "count"] == block.count() == 90 * 60
    assert result.loc["box", "mean"] == pytest.approx(block.mean(), rel=1e-12)
    assert result.loc["box", "min"] == block.min()
    assert result.loc["box", "max"] == block.max()
    assert result.loc["box", "std"] == pytest.approx(block.std(), rel=1e-9)
    for name in ("outside", "missing"):
        assert result.loc[name, "count"] == 0
        assert result.loc[name, ["mean", "min", "max", "std"]].isna().all()


def test_zonal_overlapping_zones_each_get_their_pixels(real_dem) -> None:
    with rasterio.open(real_dem) as src:
        crs, transform = src.crs, src.transform
        windows = [Window(400, 200, 40, 40), Window(420, 220, 40, 40), Window(410, 190, 10, 60)]
        expected = [src.read(1, window=w).astype("float64").mean() for w in windows]
    zones = gpd.GeoDataFrame(
        geometry=[shapely.box(*rasterio.windows.bounds(w, transform)) for w in windows], crs=crs
    )
    result = rasters.zonal_stats(real_dem, zones, stats=("mean", "count"))
    assert result["count"].tolist() == [1600, 1600, 600]
    np.testing.assert_allclose(result["mean"], expected, rtol=1e-12)


def test_zonal_slope_on_real_dem_is_plausible(real_dem) -> None:
    with rasterio.open(real_dem) as src:
        box = shapely.box(*rasterio.windows.bounds(Window(300, 200, 100, 100), src.transform))
        crs = src.crs
    result = rasters.zonal_stats(
        real_dem, gpd.GeoDataFrame(geometry=[box], crs=crs), stats=("mean",), slope=True
    )
    assert 5 < result.loc[0, "slope_mean_deg"] < 45  # San Gabriel Mountains


def test_zonal_bad_arguments(real_dem, tmp_path) -> None:
    zones = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
    with pytest.raises(InvalidParameterError, match="unknown statistics"):
        rasters.zonal_stats(real_dem, zones, stats=("mean", "mode"))
    with pytest.raises(DataError):
        rasters.zonal_stats(tmp_path / "absent.tif", zones)
    with pytest.raises(InvalidParameterError, match="CRS"):
        rasters.zonal_stats(real_dem, gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1, 1)]))


# --- synthetic rasters for nodata and slope ---------------------------------------------


def synthetic_raster(path: Path, data: np.ndarray, transform, crs, nodata=None) -> Path:
    """Write a synthetic single-band GeoTIFF."""
    with rasterio.open(
        path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
        dtype=data.dtype, crs=crs, transform=transform, nodata=nodata,
    ) as dst:  # fmt: skip
        dst.write(data, 1)
    return path


def synthetic_tilted_plane(path: Path, rise_per_pixel: float, pixel: float = 1.0) -> Path:
    """A plane rising ``rise_per_pixel`` metres per pixel eastward, in UTM 11N."""
    cols = np.arange(60, dtype="float32")
    data = np.tile(cols * rise_per_pixel, (40, 1)) + 500
    return synthetic_raster(path, data, from_origin(400_000, 3_800_000, pixel, pixel), 32611)


def test_zonal_ignores_nodata(tmp_path) -> None:
    data = np.arange(100, dtype="int16").reshape(10, 10)
    data[2:4, 2:4] = -1
    path = synthetic_raster(
        tmp_path / "synthetic_holes.tif", data, from_origin(0, 100, 10, 10), 32611, nodata=-1
    )
    zones = gpd.GeoDataFrame(
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(20, 60, 40, 80)], crs=32611
    )
    result = rasters.zonal_stats(path, zones, stats=("mean", "count", "sum"))
    valid = data[data != -1]
    assert result.loc[0, "count"] == 96
    assert result.loc[0, "mean"] == pytest.approx(valid.mean())
    assert result.loc[0, "sum"] == valid.sum()
    assert result.loc[1, "count"] == 0 and np.isnan(result.loc[1, "mean"])


@pytest.mark.parametrize(("rise", "pixel", "degrees"), [(1.0, 1.0, 45.0),
                                                        (30 * math.tan(math.radians(20)), 30.0,
                                                         20.0)])  # fmt: skip
def test_slope_of_a_synthetic_tilted_plane(tmp_path, rise, pixel, degrees) -> None:
    path = synthetic_tilted_plane(tmp_path / "synthetic_plane.tif", rise, pixel)
    with rasterio.open(path) as src:
        box = shapely.box(*src.bounds)
        inner = shapely.box(*rasterio.windows.bounds(Window(10, 10, 20, 20), src.transform))
    zones = gpd.GeoDataFrame(geometry=[box, inner], crs=32611)
    result = rasters.zonal_stats(path, zones, stats=("mean",), slope=True)
    assert result["slope_mean_deg"].tolist() == pytest.approx([degrees, degrees], abs=0.5)


def test_slope_of_a_synthetic_geographic_plane(tmp_path) -> None:
    """Geographic pixels: a rise equal to the pixel's ground width is 45 degrees."""
    res = 1 / 3600
    lat = 34.3
    width_m = Geod(ellps="WGS84").inv(-118.0, lat, -118.0 + res, lat)[2]
    data = np.tile(np.arange(60, dtype="float32") * width_m, (40, 1))
    path = synthetic_raster(
        tmp_path / "synthetic_plane_4326.tif",
        data,
        from_origin(-118.0, lat + 20 * res, res, res),
        4326,
    )
    zones = gpd.GeoDataFrame(geometry=[shapely.box(-118.0, lat - 19 * res, -118 + 59 * res,
                                                   lat + 19 * res)], crs=4326)  # fmt: skip
    result = rasters.zonal_stats(path, zones, stats=("mean",), slope=True)
    assert result.loc[0, "slope_mean_deg"] == pytest.approx(45.0, abs=0.5)


def test_elevation_and_slope_picks_the_covering_dem(real_dem, tmp_path) -> None:
    plane = synthetic_tilted_plane(tmp_path / "synthetic_plane.tif", 1.0)
    with rasterio.open(plane) as src:
        plane_cell = shapely.box(*src.bounds)
        utm = src.crs
    with rasterio.open(real_dem) as src:
        window = Window(500, 300, 30, 30)
        dem_cell = shapely.box(*rasterio.windows.bounds(window, src.transform))
        expected = src.read(1, window=window).astype("float64").mean()
    cells = gpd.GeoDataFrame(
        geometry=[plane_cell, dem_cell, shapely.box(0, 0, 1000, 1000)],
        index=["plane", "dem", "nowhere"],
        crs=utm,
    ).to_crs(4326)
    result = rasters.elevation_and_slope(cells, [plane, real_dem])
    assert list(result.index) == ["plane", "dem", "nowhere"]
    assert result.loc["plane", "dem"] == plane.name
    assert result.loc["plane", "slope_mean_deg"] == pytest.approx(45.0, abs=0.5)
    assert result.loc["dem", "dem"] == real_dem.name
    # The lon/lat round trip can move the edge of the cell by a hair: compare loosely.
    assert result.loc["dem", "elevation_mean_m"] == pytest.approx(expected, rel=0.01)
    assert 0 < result.loc["dem", "slope_mean_deg"] < 60
    assert pd.isna(result.loc["nowhere", "dem"])
    assert result.loc["nowhere", ["elevation_mean_m", "slope_mean_deg"]].isna().all()
    with pytest.raises(DataError):
        rasters.elevation_and_slope(cells, [tmp_path / "absent.tif"])
