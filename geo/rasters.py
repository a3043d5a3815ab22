"""Raster products and raster statistics: prospectivity surfaces, zonal stats, terrain.

Pure library code (no web imports). Errors are ``layers.errors`` classes, so ``app/`` maps
them to HTTP statuses without this module knowing about HTTP.

* :func:`prospectivity_surface` turns weighted deposit points into a kernel-density
  Cloud-Optimized GeoTIFF on an equal-area metric grid, normalized to ``[0, 1]``.
* :func:`zonal_stats` summarizes any single-band raster over polygons in one vectorized
  pass (rasterize zone labels, then ``np.bincount``), optionally with the mean slope.
* :func:`elevation_and_slope` asks whichever configured DEM covers a cell for its mean
  elevation and slope.

Everything is vectorized numpy; no Python loop runs per pixel. SciPy is not a dependency:
the Gaussian is applied as two 1-D passes of shifted slice additions, whose cost is
``pixels x kernel taps`` and which needs no FFT-sized complex buffers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import rasterio.env
import rasterio.features
import rasterio.warp
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError
from rasterio.transform import Affine, from_origin
from rasterio.windows import Window
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from layers.errors import DataError, InvalidParameterError, LimitExceededError

log = logging.getLogger(__name__)

#: Bump when the surface algorithm changes, so cached surfaces are not reused.
KDE_VERSION = 1
#: The kernel is a Gaussian with standard deviation ``bandwidth_m``, cut at this many sigmas
#: (the mass beyond 4 sigma is 0.03 %; cutting it makes far-away pixels exactly zero).
KERNEL_TRUNCATE_SIGMAS = 4.0
#: Grid padding around the points, in bandwidths (the brief's 3 sigma: 99.7 % of the mass).
PAD_BANDWIDTHS = 3.0
#: Surface values are in [0, 1], so any negative value is free to mark "no data". The grid
#: itself is fully valid; nodata only marks what lies outside it when a tiler or a reader
#: pads an edge tile or a window.
SURFACE_NODATA = -9999.0
#: Largest surface grid: ~256 MB of float32 (peak memory is about 3x while convolving).
MAX_SURFACE_PIXELS = 64_000_000
#: Largest raster window zonal_stats reads at once (~800 MB of float64 with the labels).
MAX_ZONAL_PIXELS = 100_000_000
#: Largest bandwidth in pixels: the separable pass costs one array sweep per kernel tap.
MAX_SIGMA_PIXELS = 100.0
COG_BLOCKSIZE = 256
SUPPORTED_STATS = ("mean", "min", "max", "count", "sum", "std")
DEFAULT_STATS = ("mean", "min", "max", "count")
#: Mean Earth radius (IUGG), for metre sizes of geographic pixels (accurate to ~0.3 %).
EARTH_RADIUS_M = 6_371_008.8
_RESERVED_TAGS = frozenset(
    {
        "KERNEL",
        "KERNEL_SIGMA_M",
        "KERNEL_TRUNCATE_SIGMAS",
        "BANDWIDTH_M",
        "PIXEL_M",
        "N_POINTS",
        "N_WEIGHTED_POINTS",
        "WEIGHT_SUM",
        "NORMALIZATION",
        "DENSITY_MAX_PER_KM2",
        "DENSITY_UNITS",
        "KDE_VERSION",
    }
)


# --- prospectivity surface --------------------------------------------------------------


@dataclass(frozen=True)
class RasterInfo:
    """What a caller needs about a written surface without reopening it."""

    path: Path
    #: (west, south, east, north) in EPSG:4326.
    bounds: tuple[float, float, float, float]
    crs: str
    #: (rows, cols)
    shape: tuple[int, int]
    #: Largest value in the file: 1.0, or 0.0 when every weight is zero.
    max_value: float
    #: Number of input points (zero-weight points included).
    count: int
    pixel_m: float
    bandwidth_m: float
    #: The unnormalized peak, in weight per km2: multiply a pixel by it to get a density.
    density_max_per_km2: float


def prospectivity_cache_path(cache_dir: Path, key_parts: Mapping[str, Any]) -> Path:
    """A deterministic file name for a surface, so the API computes each filter once.

    ``key_parts`` holds everything the surface depends on (filter, weights scheme, pixel,
    bandwidth, CRS, store build id). It is hashed as canonical JSON (sorted keys, sets
    sorted) together with :data:`KDE_VERSION`, so equal parameters in any order give the
    same name and an algorithm change gives new names.
    """
    if not isinstance(key_parts, Mapping):
        raise InvalidParameterError("key_parts must be a mapping of parameter name -> value")
    try:
        payload = json.dumps(
            {"kde_version": KDE_VERSION, "key": key_parts},
            sort_keys=True,
            separators=(",", ":"),
            default=_json_default,
        )
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"key_parts is not JSON-serializable: {exc}") from exc
    digest = hashlib.sha256(payload.encode()).hexdigest()[:32]
    return Path(cache_dir) / f"prospectivity-{digest}.tif"


def _json_default(value: Any) -> Any:
    """JSON for the few non-JSON types parameters come in (numpy scalars, sets, paths)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, set | frozenset):
        return sorted(value, key=lambda v: json.dumps(v, sort_keys=True, default=str))
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} {value!r}")


def limit_gdal_cache(megabytes: int) -> None:
    """Bound GDAL's raster block cache for this process (``GDAL_CACHEMAX``). Set through
    GDAL's API, not the environment, which GDAL reads only once, at its first block read."""
    rasterio.env.set_gdal_config("GDAL_CACHEMAX", megabytes * 1024 * 1024)


def prospectivity_surface(
    points: gpd.GeoDataFrame,
    weights: np.ndarray,
    out_path: Path,
    *,
    pixel_m: float = 1000,
    bandwidth_m: float = 5000,
    crs: str = "EPSG:5070",
    tags: Mapping[str, Any] | None = None,
    max_pixels: int = MAX_SURFACE_PIXELS,
) -> RasterInfo:
    """Write a kernel density of weighted deposit evidence as a COG; return what it holds.

    Why this design:

    * **Metric, equal-area grid.** Densities are per area, so the grid is in ``crs``, by
      default CONUS Albers (EPSG:5070). Pass ``"EPSG:3338"`` (Alaska Albers) for Alaskan
      points, or any projected CRS in metres; points outside the CRS's area of use are
      accepted but logged, since their distances are distorted.
    * **Kernel.** A Gaussian with standard deviation ``bandwidth_m``, truncated at
      :data:`KERNEL_TRUNCATE_SIGMAS` sigmas and renormalized. Points are linearly binned
      (each weight split bilinearly over the four nearest pixel centres), then the Gaussian
      is applied as two separable 1-D passes.
    * **Extent.** The points' bounds padded by ``3 * bandwidth_m`` plus one pixel, snapped
      outward to multiples of ``pixel_m``, so surfaces of different filters share one
      pixel lattice. Zero-weight points still count for the extent.
    * **Normalization.** Values are divided by the surface maximum, so the file is in
      ``[0, 1]`` and comparable across filters as a relative ranking; the absolute peak
      (weight per km2) is kept in the ``DENSITY_MAX_PER_KM2`` tag and on the result. When
      every weight is zero the surface is all zeros (no evidence) rather than an error.
    * **File.** float32, nodata :data:`SURFACE_NODATA`, DEFLATE with the floating-point
      predictor, 256 px internal tiles, average-resampled overviews, written to a temp
      file beside ``out_path`` and ``os.replace``-d into place, so readers never see a
      half-written surface. Tags record the kernel, bandwidth, pixel size, point counts and
      the caller's ``tags`` (filter, parameters, store build id) so the file traces to its
      inputs.
    """
    n = len(points)
    if n == 0:
        raise InvalidParameterError("no points to build a prospectivity surface from")
    if not (math.isfinite(bandwidth_m) and bandwidth_m > 0):
        raise InvalidParameterError(f"bandwidth_m must be a positive number, got {bandwidth_m}")
    if not (math.isfinite(pixel_m) and pixel_m > 0):
        raise InvalidParameterError(f"pixel_m must be a positive number, got {pixel_m}")
    sigma_px = bandwidth_m / pixel_m
    if sigma_px < 0.5:
        raise InvalidParameterError(
            f"pixel_m {pixel_m} is more than twice bandwidth_m {bandwidth_m}: the kernel "
            "would fall between pixels; use a smaller pixel or a larger bandwidth"
        )
    if sigma_px > MAX_SIGMA_PIXELS:
        raise InvalidParameterError(
            f"bandwidth_m {bandwidth_m} spans {sigma_px:.0f} pixels of {pixel_m} m (limit "
            f"{MAX_SIGMA_PIXELS:.0f}); use a coarser pixel"
        )
    weights = np.asarray(weights, dtype="float64")
    if weights.shape != (n,):
        raise InvalidParameterError(f"weights must have shape ({n},), got {weights.shape}")
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise InvalidParameterError("weights must be finite and non-negative")
    target = _metric_crs(crs)
    tags = dict(tags or {})
    clashes = sorted(k for k in tags if str(k).upper() in _RESERVED_TAGS)
    if clashes:
        raise InvalidParameterError(f"tags {clashes} are reserved for the surface's own tags")
    caller_tags = {str(k): v if isinstance(v, str) else _tag_json(k, v) for k, v in tags.items()}

    xs, ys = _project_points(points, target)
    xmin, ymin, xmax, ymax = _grid_extent(xs, ys, pixel_m, bandwidth_m)
    width = round((xmax - xmin) / pixel_m)
    height = round((ymax - ymin) / pixel_m)
    if width * height > max_pixels:
        raise LimitExceededError(
            f"a {pixel_m:g} m surface over these points needs {width}x{height} pixels "
            f"(limit {max_pixels}); use a coarser pixel or fewer points"
        )
    transform = from_origin(xmin, ymax, pixel_m, pixel_m)

    grid = _linear_bin(xs, ys, weights, transform, (height, width)).astype("float32")
    kernel = _gaussian_kernel(sigma_px)
    grid = _convolve_axis(grid, kernel, axis=1)
    grid = _convolve_axis(grid, kernel, axis=0)
    peak = float(grid.max())
    pixel_km2 = (pixel_m / 1000.0) ** 2
    density_max = peak / pixel_km2
    if peak > 0:
        grid /= np.float32(peak)
    surface = grid

    own_tags = {
        "KERNEL": "gaussian",
        "KERNEL_SIGMA_M": f"{bandwidth_m:g}",
        "KERNEL_TRUNCATE_SIGMAS": f"{KERNEL_TRUNCATE_SIGMAS:g}",
        "BANDWIDTH_M": f"{bandwidth_m:g}",
        "PIXEL_M": f"{pixel_m:g}",
        "N_POINTS": str(n),
        "N_WEIGHTED_POINTS": str(int((weights > 0).sum())),
        "WEIGHT_SUM": f"{weights.sum():.10g}",
        "NORMALIZATION": "divided by the maximum density (values in [0, 1])",
        "DENSITY_MAX_PER_KM2": f"{density_max:.10g}",
        "DENSITY_UNITS": "weight per km2 = value * DENSITY_MAX_PER_KM2",
        "KDE_VERSION": str(KDE_VERSION),
    }
    out_path = Path(out_path)
    _write_cog(surface, transform, target, out_path, {**caller_tags, **own_tags})

    west, south, east, north = rasterio.warp.transform_bounds(
        target, "EPSG:4326", xmin, ymin, xmax, ymax, densify_pts=21
    )
    return RasterInfo(
        path=out_path,
        bounds=(west, south, east, north),
        crs=target.to_string(),
        shape=(height, width),
        max_value=float(surface.max()),
        count=n,
        pixel_m=float(pixel_m),
        bandwidth_m=float(bandwidth_m),
        density_max_per_km2=density_max,
    )


def _grid_extent(
    xs: np.ndarray, ys: np.ndarray, pixel_m: float, bandwidth_m: float
) -> tuple[float, float, float, float]:
    """The surface's extent: the points' bounds padded by ``PAD_BANDWIDTHS`` bandwidths
    plus one pixel, snapped outward to multiples of ``pixel_m``."""
    pad = PAD_BANDWIDTHS * bandwidth_m + pixel_m
    return (
        math.floor((xs.min() - pad) / pixel_m) * pixel_m,
        math.floor((ys.min() - pad) / pixel_m) * pixel_m,
        math.ceil((xs.max() + pad) / pixel_m) * pixel_m,
        math.ceil((ys.max() + pad) / pixel_m) * pixel_m,
    )


def fitting_pixel_m(
    points: gpd.GeoDataFrame,
    pixel_m: float,
    bandwidth_m: float,
    crs: str = "EPSG:5070",
    max_pixels: int = MAX_SURFACE_PIXELS,
    step_m: float = 250.0,
) -> float:
    """``pixel_m``, or the smallest multiple of ``step_m`` above it whose surface over
    ``points`` fits in ``max_pixels`` (national deposits, Alaska and the islands included,
    need a coarser pixel than a state). Multiples of ``step_m`` keep filters of the same
    extent on one lattice."""
    if len(points) == 0:
        return pixel_m
    xs, ys = _project_points(points, _metric_crs(crs))
    pixel = pixel_m
    while True:
        xmin, ymin, xmax, ymax = _grid_extent(xs, ys, pixel, bandwidth_m)
        if round((xmax - xmin) / pixel) * round((ymax - ymin) / pixel) <= max_pixels:
            return pixel
        pixel = (math.floor(pixel / step_m) + 1) * step_m


def _tag_json(key: Any, value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=_json_default)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"tag {key!r} is not JSON-serializable: {exc}") from exc


def _metric_crs(crs: str) -> CRS:
    """The target CRS, refused unless projected in metres (densities need metric areas)."""
    try:
        target = CRS.from_user_input(crs)
    except CRSError as exc:
        raise InvalidParameterError(f"unknown CRS {crs!r}: {exc}") from exc
    units = {axis.unit_name for axis in target.axis_info}
    if not target.is_projected or not units <= {"metre", "meter"}:
        raise InvalidParameterError(f"crs must be projected in metres, got {crs!r} ({units})")
    return target


def _project_points(points: gpd.GeoDataFrame, target: CRS) -> tuple[np.ndarray, np.ndarray]:
    """Point coordinates in the target CRS; refuses missing or non-point geometries."""
    if points.crs is None:
        raise InvalidParameterError("points have no CRS (expected EPSG:4326)")
    geoms = points.geometry
    if geoms.isna().any() or geoms.is_empty.any():
        raise InvalidParameterError("points include missing or empty geometries")
    kinds = set(geoms.geom_type)
    if kinds != {"Point"}:
        raise InvalidParameterError(f"points must be Point geometries, got {sorted(kinds)}")
    area = target.area_of_use
    if area is not None:
        lonlat = geoms.to_crs(4326)
        lon, lat = lonlat.x.to_numpy(), lonlat.y.to_numpy()
        if area.west <= area.east:
            in_lon = (lon >= area.west) & (lon <= area.east)
        else:  # the area crosses the antimeridian (Alaska's Aleutians)
            in_lon = (lon >= area.west) | (lon <= area.east)
        outside = ~(in_lon & (lat >= area.south) & (lat <= area.north))
        if outside.any():
            log.warning(
                "%d of %d points lie outside the area of use of %s; their distances are "
                "distorted (pass a CRS made for them, e.g. EPSG:3338 for Alaska)",
                int(outside.sum()),
                len(points),
                target.to_string(),
            )
    projected = geoms.to_crs(target)
    xs, ys = projected.x.to_numpy(), projected.y.to_numpy()
    if not (np.isfinite(xs).all() and np.isfinite(ys).all()):
        raise InvalidParameterError(f"some points cannot be projected to {target.to_string()}")
    return xs, ys


def _linear_bin(
    xs: np.ndarray,
    ys: np.ndarray,
    weights: np.ndarray,
    transform: Affine,
    shape: tuple[int, int],
) -> np.ndarray:
    """Spread each weight over its four nearest pixel centres (bilinear "linear binning").

    Why not nearest pixel: snapping moves a point up to half a pixel; linear binning keeps
    the binned mass's centroid at the point, so the surface peak does not jump with the
    grid origin. A point on a pixel centre puts all its weight on that pixel.
    """
    height, width = shape
    inverse = ~transform
    cols, rows = inverse @ (xs, ys)
    fc, fr = np.asarray(cols) - 0.5, np.asarray(rows) - 0.5  # pixel-centre coordinates
    c0 = np.clip(np.floor(fc).astype("int64"), 0, width - 2)
    r0 = np.clip(np.floor(fr).astype("int64"), 0, height - 2)
    tx = np.clip(fc - c0, 0.0, 1.0)
    ty = np.clip(fr - r0, 0.0, 1.0)
    grid = np.zeros(shape, dtype="float64")
    for dr, dc, share in (
        (0, 0, (1 - ty) * (1 - tx)),
        (0, 1, (1 - ty) * tx),
        (1, 0, ty * (1 - tx)),
        (1, 1, ty * tx),
    ):
        np.add.at(grid, (r0 + dr, c0 + dc), weights * share)
    return grid


def _gaussian_kernel(sigma_px: float) -> np.ndarray:
    """Sampled 1-D Gaussian, truncated at KERNEL_TRUNCATE_SIGMAS and summing to 1."""
    radius = max(1, math.ceil(KERNEL_TRUNCATE_SIGMAS * sigma_px))
    offsets = np.arange(-radius, radius + 1, dtype="float64")
    kernel = np.exp(-0.5 * (offsets / sigma_px) ** 2)
    return kernel / kernel.sum()


def _convolve_axis(array: np.ndarray, kernel: np.ndarray, axis: int) -> np.ndarray:
    """Convolve a 2-D float32 grid with a symmetric kernel along one axis, zero outside.

    One vectorized sweep per pair of symmetric taps (shifted-slice sums into a reused
    buffer). Only the lines holding any mass are swept when they are a minority, which
    matters for sparse, nationwide point sets.
    """
    moved = np.moveaxis(array, axis, 0)  # convolve along axis 0 of this view
    live = np.flatnonzero((moved != 0).any(axis=0))
    out = np.zeros(array.shape, dtype="float32")
    if live.size == 0:
        return out
    sparse = live.size < 0.5 * moved.shape[1]
    src = moved[:, live] if sparse else moved
    radius = len(kernel) // 2
    acc = src * np.float32(kernel[radius])
    pair = np.empty_like(acc)
    n = src.shape[0]
    for shift in range(1, min(radius, n - 1) + 1):
        weight = np.float32(kernel[radius + shift])
        np.multiply(src[:-shift], weight, out=pair[: n - shift])
        acc[shift:] += pair[: n - shift]
        np.multiply(src[shift:], weight, out=pair[: n - shift])
        acc[:-shift] += pair[: n - shift]
    out_moved = np.moveaxis(out, axis, 0)
    if sparse:
        out_moved[:, live] = acc
    else:
        out_moved[...] = acc
    return out


def _write_cog(
    data: np.ndarray, transform: Affine, crs: CRS, out_path: Path, tags: Mapping[str, str]
) -> None:
    """Write one float32 band as a COG via a temp file and an atomic ``os.replace``.

    The band and rio-cogeo's intermediate copy are staged in temp files beside the
    output, not in memory: the national surface of 300k deposits (58 M pixels) peaked
    at +1,559 MiB RSS through two in-memory copies and GDAL's default block cache,
    +487 MiB this way with a 200 MB cache, in the same 2.7-2.9 s."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    temp = out_path.parent / f".{out_path.name}.{uuid.uuid4().hex}.tmp"
    staged = temp.with_name(f"{temp.name}.band.tif")
    height, width = data.shape
    levels = 0
    while max(width, height) / 2**levels > COG_BLOCKSIZE:
        levels += 1
    profile = cog_profiles.get("deflate")
    profile.update(
        blockxsize=COG_BLOCKSIZE, blockysize=COG_BLOCKSIZE, predictor=3, num_threads="ALL_CPUS"
    )
    try:
        with rasterio.open(
            staged,
            "w",
            driver="GTiff",
            width=width,
            height=height,
            count=1,
            dtype="float32",
            crs=crs.to_wkt(),
            transform=transform,
            nodata=SURFACE_NODATA,
            tiled=True,
            blockxsize=COG_BLOCKSIZE,
            blockysize=COG_BLOCKSIZE,
        ) as band:
            band.write(data, 1)
            band.set_band_description(1, "prospectivity (normalized kernel density)")
        with rasterio.open(staged) as band:
            cog_translate(
                band,
                str(temp),
                profile,
                overview_level=levels,
                overview_resampling="average",
                additional_cog_metadata=dict(tags),
                forward_band_tags=True,
                in_memory=False,
                quiet=True,
            )
        os.replace(temp, out_path)
    finally:
        temp.unlink(missing_ok=True)
        staged.unlink(missing_ok=True)


# --- zonal statistics -------------------------------------------------------------------


def zonal_stats(
    raster_path: Path,
    zones: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    stats: Sequence[str] = DEFAULT_STATS,
    slope: bool = False,
    band: int = 1,
    max_pixels: int = MAX_ZONAL_PIXELS,
) -> pd.DataFrame:
    """Statistics of one raster band over each zone, index-aligned with ``zones``.

    Why it is built this way:

    * **One read, one rasterize.** Zones are reprojected to the raster's CRS, the window
      covering all of them is read once, zone positions are burnt into a label grid and
      every statistic comes from ``np.bincount`` (min/max from ``reduceat`` on sorted
      labels). Overlapping zones cannot share one label grid, so they are split into
      groups of mutually non-overlapping zones (greedy colouring) and each group gets its
      own rasterize pass; edge-sharing zones stay in one pass.
    * **Pixel membership.** A pixel belongs to a zone when its centre is inside (GDAL's
      default rule). A zone so small it holds no pixel centre takes the pixel under its
      representative point, so small parcels still get a value.
    * **Missing data.** Nodata pixels and NaNs are ignored. Zones outside the raster, with
      no geometry, or only over nodata get ``count`` 0 and NaN for the other statistics.
    * **Slope** (``slope=True``): mean slope in degrees over the zone, column
      ``slope_mean_deg``. Gradients are central differences (``np.gradient``) on the window
      read with a one-pixel halo, divided by the pixel size in metres: projected units are
      converted by the CRS's unit factor; geographic pixels use the local metre length of a
      degree (spherical Earth, per row latitude). Elevations are assumed in metres. Pixels
      next to nodata have no slope.
    """
    stats = tuple(stats)
    unknown = sorted(set(stats) - set(SUPPORTED_STATS))
    if unknown or not stats:
        raise InvalidParameterError(
            f"unknown statistics {unknown}; choose from {list(SUPPORTED_STATS)}"
        )
    if zones.crs is None:
        raise InvalidParameterError("zones have no CRS")
    columns = [*stats, *(["slope_mean_deg"] if slope else [])]
    result = pd.DataFrame(np.nan, index=zones.index, columns=columns, dtype="float64")
    if "count" in stats:
        result["count"] = 0
    if len(zones) == 0:
        return result

    raster_path = Path(raster_path)
    if not raster_path.exists():
        raise DataError(f"{raster_path}: raster not found")
    try:
        with rasterio.open(raster_path) as src:
            if src.crs is None:
                raise DataError(f"{raster_path}: raster has no CRS")
            if not 1 <= band <= src.count:
                raise InvalidParameterError(f"{raster_path} has no band {band}")
            geoms = np.asarray(zones.geometry.to_crs(src.crs).values, dtype=object)
            window, present = _zones_window(src, geoms)
            if window is None:
                return result
            halo = _expand(window, 1 if slope else 0, src.width, src.height)
            if halo.width * halo.height > max_pixels:
                raise LimitExceededError(
                    f"zones span {halo.width}x{halo.height} pixels of {raster_path.name} "
                    f"(limit {max_pixels}); summarize fewer or smaller zones at once"
                )
            values = src.read(band, window=halo, masked=True).astype("float64").filled(np.nan)
            halo_transform = src.window_transform(halo)
            slopes = _slope_degrees(values, halo_transform, src.crs) if slope else None
    except rasterio.errors.RasterioIOError as exc:
        raise DataError(f"{raster_path}: cannot read as a raster: {exc}") from exc

    # Crop the halo back to the zones' window.
    r0, c0 = window.row_off - halo.row_off, window.col_off - halo.col_off
    inner = (slice(r0, r0 + window.height), slice(c0, c0 + window.width))
    values = values[inner]
    slopes = slopes[inner] if slopes is not None else None
    transform = halo_transform @ Affine.translation(c0, r0)

    positions = np.arange(len(geoms))
    burnt = np.zeros(len(geoms), dtype="int64")  # pixel centres per zone, nodata included
    for group in _non_overlapping_groups(geoms[present], positions[present]):
        labels = rasterio.features.rasterize(
            ((geoms[i], int(i)) for i in group),
            out_shape=values.shape,
            transform=transform,
            fill=-1,
            dtype="int32",
        ).ravel()
        burnt += np.bincount(labels[labels >= 0], minlength=len(geoms))
        _accumulate(result, stats, labels, values.ravel(), slopes, len(geoms))
    tiny = present & (burnt == 0)
    _fill_tiny_zones(result, stats, geoms, tiny, values, slopes, transform)
    if "count" in stats:
        result["count"] = result["count"].astype("int64")
    return result


def _zones_window(
    src: rasterio.io.DatasetReader, geoms: np.ndarray
) -> tuple[Window | None, np.ndarray]:
    """Pixel window covering the zones that touch the raster, and which zones those are.

    Zones with no geometry, or whose (reprojected) bounds miss the raster's bounds, are left
    out of the read and of the rasterize passes; None when no zone is left.
    """
    bounds = np.full((len(geoms), 4), np.nan)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    bounds[present] = shapely.bounds(geoms[present])
    left, bottom, right, top = src.bounds
    with np.errstate(invalid="ignore"):
        touching = (
            present
            & np.isfinite(bounds).all(axis=1)
            & (bounds[:, 2] >= left)
            & (bounds[:, 0] <= right)
            & (bounds[:, 3] >= bottom)
            & (bounds[:, 1] <= top)
        )
    if not touching.any():
        return None, touching
    minx, miny = bounds[touching, :2].min(axis=0)
    maxx, maxy = bounds[touching, 2:].max(axis=0)
    inverse = ~src.transform
    corners = [inverse @ (x, y) for x in (minx, maxx) for y in (miny, maxy)]
    cols = np.clip([c for c, _ in corners], -1, src.width + 1)
    rows = np.clip([r for _, r in corners], -1, src.height + 1)
    col0 = max(0, math.floor(cols.min()))
    row0 = max(0, math.floor(rows.min()))
    col1 = min(src.width, math.ceil(cols.max()))
    row1 = min(src.height, math.ceil(rows.max()))
    if col1 <= col0 or row1 <= row0:
        return None, np.zeros_like(touching)
    return Window(col0, row0, col1 - col0, row1 - row0), touching


def _expand(window: Window, pixels: int, width: int, height: int) -> Window:
    col0 = max(0, window.col_off - pixels)
    row0 = max(0, window.row_off - pixels)
    col1 = min(width, window.col_off + window.width + pixels)
    row1 = min(height, window.row_off + window.height + pixels)
    return Window(col0, row0, col1 - col0, row1 - row0)


def _non_overlapping_groups(geoms: np.ndarray, positions: np.ndarray) -> list[np.ndarray]:
    """Split zones into groups whose members do not overlap (area > 0), greedily.

    Partitions (grid cells, counties) come back as one group; only zones that really
    overlap something cost extra rasterize passes.
    """
    if geoms.size == 0:
        return []
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pair = left < right
    left, right = left[pair], right[pair]
    if left.size:
        overlap = shapely.area(shapely.intersection(geoms[left], geoms[right])) > 0
        left, right = left[overlap], right[overlap]
    colour = np.zeros(geoms.size, dtype="int64")
    if left.size:
        neighbours: dict[int, list[int]] = {}
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            neighbours.setdefault(a, []).append(b)
            neighbours.setdefault(b, []).append(a)
        colour[:] = -1
        colour[[i for i in range(geoms.size) if i not in neighbours]] = 0
        for node in sorted(neighbours, key=lambda k: -len(neighbours[k])):
            taken = {int(colour[m]) for m in neighbours[node] if colour[m] >= 0}
            colour[node] = next(c for c in range(len(taken) + 1) if c not in taken)
    return [positions[colour == c] for c in range(int(colour.max()) + 1)]


def _accumulate(
    result: pd.DataFrame,
    stats: tuple[str, ...],
    labels: np.ndarray,
    values: np.ndarray,
    slopes: np.ndarray | None,
    n_zones: int,
) -> None:
    """Fill the statistics of the zones burnt into ``labels`` (one non-overlapping group)."""
    valid = (labels >= 0) & ~np.isnan(values)
    lab, val = labels[valid], values[valid]
    count = np.bincount(lab, minlength=n_zones)
    hit = np.flatnonzero(count)
    if hit.size:
        total = np.bincount(lab, weights=val, minlength=n_zones)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
        columns: dict[str, np.ndarray] = {}
        if "count" in stats:
            columns["count"] = count[hit]
        if "sum" in stats:
            columns["sum"] = total[hit]
        if "mean" in stats:
            columns["mean"] = mean[hit]
        if "std" in stats:
            sq = np.bincount(lab, weights=(val - mean[lab]) ** 2, minlength=n_zones)
            columns["std"] = np.sqrt(sq[hit] / count[hit])
        if "min" in stats or "max" in stats:
            order = np.argsort(lab, kind="stable")
            sorted_val = val[order]
            starts = np.searchsorted(lab[order], hit)
            if "min" in stats:
                columns["min"] = np.minimum.reduceat(sorted_val, starts)
            if "max" in stats:
                columns["max"] = np.maximum.reduceat(sorted_val, starts)
        for name, column in columns.items():
            result.iloc[hit, result.columns.get_loc(name)] = column
    if slopes is not None:
        flat = slopes.ravel()
        ok = (labels >= 0) & ~np.isnan(flat)
        n_slope = np.bincount(labels[ok], minlength=n_zones)
        slope_sum = np.bincount(labels[ok], weights=flat[ok], minlength=n_zones)
        has = np.flatnonzero(n_slope)
        result.iloc[has, result.columns.get_loc("slope_mean_deg")] = slope_sum[has] / n_slope[has]


def _fill_tiny_zones(
    result: pd.DataFrame,
    stats: tuple[str, ...],
    geoms: np.ndarray,
    tiny: np.ndarray,
    values: np.ndarray,
    slopes: np.ndarray | None,
    transform: Affine,
) -> None:
    """Zones holding no pixel centre take the pixel under their representative point."""
    todo = np.flatnonzero(tiny)
    if todo.size == 0:
        return
    anchor = shapely.point_on_surface(geoms[todo])
    cols, rows = (~transform) @ (shapely.get_x(anchor), shapely.get_y(anchor))
    cols = np.floor(np.asarray(cols)).astype("int64")
    rows = np.floor(np.asarray(rows)).astype("int64")
    inside = (rows >= 0) & (rows < values.shape[0]) & (cols >= 0) & (cols < values.shape[1])
    todo, rows, cols = todo[inside], rows[inside], cols[inside]
    pixel = values[rows, cols]
    good = ~np.isnan(pixel)
    todo, rows, cols, pixel = todo[good], rows[good], cols[good], pixel[good]
    if todo.size == 0:
        return
    single = {"mean": pixel, "min": pixel, "max": pixel, "sum": pixel,
              "count": np.ones_like(todo), "std": np.zeros_like(pixel)}  # fmt: skip
    for name in stats:
        result.iloc[todo, result.columns.get_loc(name)] = single[name]
    if slopes is not None:
        result.iloc[todo, result.columns.get_loc("slope_mean_deg")] = slopes[rows, cols]


def _slope_degrees(elevation: np.ndarray, transform: Affine, crs: rasterio.crs.CRS) -> np.ndarray:
    """Slope in degrees from central differences, with pixel sizes converted to metres."""
    slope = np.full(elevation.shape, np.nan)
    if min(elevation.shape) < 2:
        return slope
    if transform.b != 0 or transform.d != 0:
        raise DataError("rotated rasters are not supported for slope")
    res_x, res_y = abs(transform.a), abs(transform.e)
    rows = elevation.shape[0]
    if crs.is_geographic:
        lat = transform.f + transform.e * (np.arange(rows) + 0.5)
        metres_per_degree = math.pi / 180.0 * EARTH_RADIUS_M
        dx = (res_x * metres_per_degree * np.cos(np.radians(lat)))[:, None]
        dy = res_y * metres_per_degree
    else:
        factor = crs.linear_units_factor[1]
        dx, dy = res_x * factor, res_y * factor
    grad_row, grad_col = np.gradient(elevation)
    with np.errstate(invalid="ignore"):
        rise = np.hypot(grad_col / dx, grad_row / dy)
    return np.degrees(np.arctan(rise))


# --- terrain per cell -------------------------------------------------------------------


def elevation_and_slope(
    cells: gpd.GeoDataFrame | gpd.GeoSeries, dem_paths: Iterable[Path]
) -> pd.DataFrame:
    """Mean elevation (m) and slope (degrees) per cell from the first DEM that covers it.

    DEMs are tried in the order given (list the preferred one first); a cell takes the
    first DEM holding at least one valid pixel in it, and column ``dem`` names that file,
    so a value traces to its source. Cells no DEM covers get NaN and a missing ``dem``.
    """
    if cells.crs is None:
        raise InvalidParameterError("cells have no CRS")
    n = len(cells)
    elevation = np.full(n, np.nan)
    slope = np.full(n, np.nan)
    source = np.full(n, None, dtype=object)
    bounds = cells.geometry.bounds
    for dem in dem_paths:
        dem = Path(dem)
        if not dem.exists():
            raise DataError(f"{dem}: DEM not found")
        todo = pd.isna(source)
        if not todo.any():
            break
        try:
            with rasterio.open(dem) as src:
                if src.crs is None:
                    raise DataError(f"{dem}: raster has no CRS")
                west, south, east, north = rasterio.warp.transform_bounds(
                    src.crs, cells.crs, *src.bounds, densify_pts=21
                )
        except rasterio.errors.RasterioIOError as exc:
            raise DataError(f"{dem}: cannot read as a raster: {exc}") from exc
        near = np.flatnonzero(
            todo
            & (bounds["maxx"].to_numpy() >= west)
            & (bounds["minx"].to_numpy() <= east)
            & (bounds["maxy"].to_numpy() >= south)
            & (bounds["miny"].to_numpy() <= north)
        )
        if near.size == 0:
            continue
        found = zonal_stats(dem, cells.iloc[near], stats=("mean", "count"), slope=True)
        covered = found["count"].to_numpy() > 0
        hit = near[covered]
        elevation[hit] = found["mean"].to_numpy()[covered]
        slope[hit] = found["slope_mean_deg"].to_numpy()[covered]
        source[hit] = dem.name
    return pd.DataFrame(
        {"elevation_mean_m": elevation, "slope_mean_deg": slope, "dem": source},
        index=cells.index,
    )
