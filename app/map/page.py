"""The ``/map`` page: a Folium map whose data all comes from the API at view time.

Folium writes the page skeleton (map, panes, layers, layer control); ``fedmin.js`` holds
the styles, legend, control panel, popups and search. The page inlines no data: large
layers are vector tiles, ranked cells come from ``/rankings``, records from the items
endpoint, so the HTML stays a few tens of kB whatever the store holds. Folium's CDN links
are replaced by files fedmin serves itself (``app.map.assets``), so the page works offline.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import folium
import pandas as pd
from branca.element import Element, MacroElement
from folium.map import CustomPane, Layer, LayerControl
from folium.template import Template
from rio_tiler.colormap import cmap

from app.collections import COVERAGE_TOPICS, PROSPECTIVITY, RasterSpec
from app.map import assets
from app.map.assets import OSM_ATTRIBUTION, OSM_TILES
from app.map.palette import palette
from geo.scoring import (
    COMPONENTS,
    DEFAULT_MIN_OPEN_LAND,
    DEFAULT_MIN_UNDEVELOPED_SHARE,
    DEFAULT_WEIGHTS,
)
from layers.critical import CRITICAL_LIST_IDS, DEFAULT_CRITICAL_LIST, critical_list_info

#: API paths the page calls, relative to the app's root path ({...} filled in the browser).
API_PATHS: dict[str, str] = {
    "tiles": "/collections/{collection}/tiles/WebMercatorQuad/{z}/{x}/{y}",
    "raster": "/rasters/{raster}/tiles/WebMercatorQuad/{z}/{x}/{y}.png",
    "item": "/collections/deposits/items/{id}",
    "search": "/map/search",
    "rankings": "/rankings",
    "ranking": "/rankings/{cellId}",
    "shortlist": "/shortlist",
}
#: Query parameter names of those endpoints (one place to follow an API rename).
API_PARAMS: dict[str, str] = {
    "commodity": "commodity",
    "critical_list": "critical_list",
    "weights": "weights",
    "weights_style": "pairs",  # weights=potential:0.35,access:0.2
    "cell_km": "cell_km",
    "min_open_land": "min_open_land",
    "min_undeveloped_share": "min_undeveloped_share",
    "top": "top",
    "geometry": "geometry",
    "format": "format",
    "search": "q",
}
EXPORT_FORMATS = ("csv", "geojson", "gpkg", "kml", "shp")
CRITICAL_VALUE = "critical"

COMPONENT_HELP = {
    "potential": "known mineral evidence nearby (deposits weighted by commodity and status)",
    "underdevelopment": "potential not matched by producers or active claims",
    "access": "closeness to roads, railroads and power lines",
    "land": "share of the cell on federal land open to mineral entry",
}

#: Panes, bottom to top: base map under everything, raster under polygons, polygons under
#: lines, labels over the cells, points on top.
PANES: tuple[tuple[str, int, bool], ...] = (
    ("fedmin-basemap", 150, False),
    ("fedmin-water", 160, False),
    ("fedmin-raster", 250, False),
    ("fedmin-lands", 300, False),
    ("fedmin-closed", 320, False),
    ("fedmin-claims", 330, False),
    ("fedmin-coverage", 340, False),
    ("fedmin-lines", 350, False),
    ("fedmin-boundaries", 360, False),
    ("fedmin-cells", 400, True),
    ("fedmin-labels", 420, False),
    ("fedmin-deposits", 450, False),
)

#: Initial view before the first ranking (then the map fits the ranked cells).
US_CENTER = (39.5, -98.5)
US_ZOOM = 4
MIN_ZOOM, MAX_ZOOM = 3, 18


@dataclass(frozen=True)
class LayerSpec:
    """One map layer: its key in ``fedmin.js``, layer-control title and JS factory call."""

    key: str
    title: str
    factory: str  # a function of fedmin.layers
    pane: str
    show: bool = True
    options: dict[str, Any] = field(default_factory=dict)


def _tiles_url(collection: str) -> str:
    return API_PATHS["tiles"].replace("{collection}", collection)


def _vector(
    key: str,
    title: str,
    pane: str,
    show: bool = True,
    collection: str | None = None,
    **options: Any,
) -> LayerSpec:
    """A vector-tile layer of a collection; ``key`` names its style in ``fedmin.js``."""
    url = _tiles_url(collection or key)
    return LayerSpec(key, title, "vectorTiles", pane, show, {"url": url, "style": key, **options})


def _basemap_part(style: str, collection: str, pane: str, **options: Any) -> dict[str, Any]:
    return {"url": _tiles_url(collection), "style": style, "pane": pane, **options}


#: The offline base map: land (the states' polygons), lakes and rivers, county lines from
#: zoom 6 and state lines, all vector tiles fedmin serves from its own store.
BASEMAP = LayerSpec(
    "basemap",
    "Base map: land, water, state and county lines (offline)",
    "basemap",
    "fedmin-basemap",
    options={
        "parts": [
            _basemap_part("land", "states", "fedmin-basemap"),
            _basemap_part("lakes", "lakes", "fedmin-water"),
            _basemap_part("rivers", "rivers", "fedmin-water"),
            _basemap_part("counties", "counties", "fedmin-boundaries", minZoom=6),
            _basemap_part("states", "states", "fedmin-boundaries"),
        ]
    },
)
#: Place names from the populated places (one GeoJSON request: a few hundred points).
PLACE_LABELS = LayerSpec(
    "places",
    "Place names",
    "placeLabels",
    "fedmin-labels",
    options={
        "url": "/collections/populated_places/items?limit=2000",
        "zoomOffset": 0.5,
        "maxLabels": 120,
        "bigPopulation": 1_000_000,
    },
)


def _coverage(topic: str, title: str) -> LayerSpec:
    """Where one kind of data exists (an outline per topic of ``data_coverage``), off."""
    return _vector(
        f"coverage_{topic}",
        f"Coverage: where {title} data exist",
        "fedmin-coverage",
        show=False,
        collection="data_coverage",
    )


#: Where deposit sources hold every known deposit (state surveys, the regional boxes),
#: from ``deposit_coverage``; elsewhere only national compilations and sampled MRDS.
DEPOSIT_COVERAGE = _vector(
    "coverage_deposits",
    "Coverage: where full deposit surveys exist (state-wide or regional)",
    "fedmin-coverage",
    show=False,
    collection="deposit_coverage",
)

#: Every layer of the page, in layer-control order (store rasters such as the DEM are
#: added after the prospectivity surface by ``page_layers``). On by default: the base map
#: and place names, federal land by agency, closed land, ranked cells and deposits.
LAYERS: tuple[LayerSpec, ...] = (
    BASEMAP,
    PLACE_LABELS,
    LayerSpec(
        "osm",
        "OpenStreetMap (web basemap, optional)",
        "rasterTiles",
        "fedmin-basemap",
        show=False,
        options={"url": OSM_TILES, "attribution": OSM_ATTRIBUTION, "external": True},
    ),
    LayerSpec(
        PROSPECTIVITY,
        "Prospectivity surface (raster)",
        "rasterTiles",
        "fedmin-raster",
        show=False,
        options={
            "url": API_PATHS["raster"].replace("{raster}", PROSPECTIVITY),
            "opacity": 0.6,
            "filterable": True,
        },
    ),
    _vector("land_coverage", "Land-status coverage (grey: known only on units)", "fedmin-lands"),
    _vector("federal_lands", "Federal lands by agency", "fedmin-lands"),
    _vector(
        "closed_lands",
        "Closed / restricted to mineral entry (hatched)",
        "fedmin-closed",
        collection="federal_lands",
        svg=True,  # the hatch is an SVG pattern
    ),
    _vector("claims", "BLM mining claims", "fedmin-claims", show=False, minZoom=7),
    _vector("roads", "Roads", "fedmin-lines", show=False),
    _vector("railroads", "Railroads", "fedmin-lines", show=False),
    _vector("transmission_lines", "Transmission lines", "fedmin-lines", show=False),
    DEPOSIT_COVERAGE,
    *(_coverage(topic, title.lower()) for topic, (title, _) in COVERAGE_TOPICS.items()),
    LayerSpec(
        "ranked_cells", "Ranked cells (score; Pareto outlined)", "rankedCells", "fedmin-cells"
    ),
    # Not interactive as a layer (a canvas would swallow the clicks meant for the cells
    # below): fedmin.js finds the deposit under a click itself.
    _vector(
        "deposits",
        "Deposits (by development status; critical ringed)",
        "fedmin-deposits",
        filterable=True,
    ),
)


def raster_key(raster_id: str) -> str:
    """The layer key of a raster in ``fedmin.js`` (the surface keeps its short name)."""
    return raster_id if raster_id == PROSPECTIVITY else f"raster:{raster_id}"


def page_layers(rasters: Iterable[RasterSpec]) -> tuple[LayerSpec, ...]:
    """``LAYERS`` plus one overlay, off by default, per store raster (e.g. the DEM)."""
    extra = tuple(
        LayerSpec(
            raster_key(spec.id),
            f"{spec.title} (raster)",
            "rasterTiles",
            "fedmin-raster",
            show=False,
            options={"url": API_PATHS["raster"].replace("{raster}", spec.id), "opacity": 0.7},
        )
        for spec in rasters
        if spec.id != PROSPECTIVITY
    )
    split = next(i for i, spec in enumerate(LAYERS) if spec.key == PROSPECTIVITY) + 1
    return (*LAYERS[:split], *extra, *LAYERS[split:])


def raster_legends(rasters: Iterable[RasterSpec], stops: int = 6) -> dict[str, dict[str, Any]]:
    """Legend ramps sampled from the colormap the tiles are rendered with (one source)."""
    legends = {}
    for spec in rasters:
        colours = cmap.get(spec.style.colormap)
        picks = [colours[round(i * 255 / (stops - 1))] for i in range(stops)]
        legends[raster_key(spec.id)] = {
            "title": spec.title,
            "colors": ["#{:02x}{:02x}{:02x}".format(*(int(v) for v in c[:3])) for c in picks],
            "range": [spec.style.vmin, spec.style.vmax],
            "units": spec.style.units,
        }
    return legends


class OfflineMap(folium.Map):
    """A ``folium.Map`` whose Leaflet and fedmin assets are linked from fedmin itself.

    Folium's class-level ``default_js``/``default_css`` point at CDNs (and pull jQuery,
    Bootstrap and Font Awesome the page does not use); instance attributes replace them
    for this map only, without mutating folium's shared lists.
    """

    def __init__(self, root_path: str = "", **kwargs: Any):
        super().__init__(**kwargs)
        self.default_js = assets.linked("js", root_path)
        self.default_css = assets.linked("css", root_path)


class FedminLayer(Layer):
    """A layer created by a ``fedmin.layers`` factory, so it joins folium's layer control."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = fedmin.layers.{{ this.factory }}({{ this.options|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, spec: LayerSpec, root_path: str = ""):
        super().__init__(name=spec.title, overlay=True, control=True, show=spec.show)
        self._name = "FedminLayer"
        self.key = spec.key
        self.factory = spec.factory
        options = {"pane": spec.pane, **spec.options}
        if not options.pop("external", False):
            options["url"] = root_path + options["url"] if "url" in options else None
        if "parts" in options:
            options["parts"] = [{**p, "url": root_path + p["url"]} for p in options["parts"]]
        self.options = {k: v for k, v in options.items() if v is not None}


class FedminInit(MacroElement):
    """Calls ``fedmin.init`` once every layer and the layer control exist."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        fedmin.init(
            {{ this.map.get_name() }},
            { {%- for key, layer in this.layers.items() %}
              {{ key|tojson }}: {{ layer.get_name() }},{% endfor %} },
            {{ this.control.get_name() }},
            {{ this.config|tojson }}
        );
        {% endmacro %}
        """
    )

    def __init__(
        self,
        fmap: folium.Map,
        layers: dict[str, Layer],
        control: LayerControl,
        config: dict[str, Any],
    ):
        super().__init__()
        self._name = "FedminInit"
        self.map, self.layers, self.control, self.config = fmap, layers, control, config


def commodity_counts(commodities: pd.Series) -> list[tuple[str, int]]:
    """Commodities present in the deposits with their deposit counts, by name.

    The filter offers what the data holds, not the whole reference table.
    """
    counts = Counter(c for items in commodities for c in (items if items is not None else ()))
    return sorted(counts.items())


def page_config(
    root_path: str,
    commodities: list[tuple[str, int]],
    rasters: Iterable[RasterSpec],
    default_cell_km: float,
    min_cell_km: float,
    max_cell_km: float,
) -> dict[str, Any]:
    """Everything ``fedmin.js`` needs: API paths and parameter names, defaults, choices."""
    return {
        "api": {name: root_path + path for name, path in API_PATHS.items()},
        "params": API_PARAMS,
        "components": list(COMPONENTS),
        "component_help": COMPONENT_HELP,
        "weights": {name: DEFAULT_WEIGHTS[name] for name in COMPONENTS},
        "cell_km": {"default": default_cell_km, "min": min_cell_km, "max": max_cell_km},
        "min_open_land": DEFAULT_MIN_OPEN_LAND,
        "min_undeveloped_share": round(DEFAULT_MIN_UNDEVELOPED_SHARE, 4),
        "top": 500,
        "top_deposits": 5,
        "search_limit": 20,
        "commodities": [name for name, _ in commodities],
        "commodity_counts": dict(commodities),
        "critical_value": CRITICAL_VALUE,
        "critical_lists": [critical_list_info(i) for i in CRITICAL_LIST_IDS],
        "critical_list_default": DEFAULT_CRITICAL_LIST,
        "export_formats": list(EXPORT_FORMATS),
        "rasters": raster_legends(rasters),
        "deposit_id_property": "id",
        "fit_first_ranking": True,
        # Explicit zoom bounds (fedmin.js sets them): else Leaflet takes them from layers
        # that have one (the county lines' minZoom 6 would stop zooming out to the US).
        "zoom": {"min": MIN_ZOOM, "max": MAX_ZOOM},
        "summary_cells": 10,
        "reweight_delay_ms": 350,
        "palette": palette(),
    }


def render_map(
    config: dict[str, Any], root_path: str = "", layers: tuple[LayerSpec, ...] = LAYERS
) -> str:
    """The page's HTML: folium skeleton + fedmin.js, no inline data."""
    fmap = OfflineMap(
        root_path,
        location=US_CENTER,
        zoom_start=US_ZOOM,
        tiles=None,
        control_scale=True,
        prefer_canvas=False,  # vector tiles choose their renderer; cells stay SVG
    )
    # the map's own zoom bounds from its creation (folium gives min_zoom/max_zoom to tile
    # layers only): else the county lines' minZoom 6, added before fedmin.js runs, pulled
    # the first view to zoom 6 over Kansas
    fmap.options.update(min_zoom=MIN_ZOOM, max_zoom=MAX_ZOOM)
    figure = fmap.get_root()
    figure.title = "fedmin map: mineral deposits on US federal lands"
    icon = f'<link rel="icon" type="image/svg+xml" href="{assets.favicon_url(root_path)}"/>'
    figure.header.add_child(Element(icon), name="fedmin_favicon")
    for name, z_index, pointer_events in PANES:
        CustomPane(name, z_index=z_index, pointer_events=pointer_events).add_to(fmap)
    made = {spec.key: FedminLayer(spec, root_path).add_to(fmap) for spec in layers}
    control = LayerControl(position="topright", collapsed=False).add_to(fmap)
    FedminInit(fmap, made, control, config).add_to(fmap)
    return figure.render()
