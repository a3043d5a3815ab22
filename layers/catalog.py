"""The layer catalog: one declarative entry per layer, the single place that says what
each layer is, where it comes from, and how its columns map to the canonical schema.

A ``Source`` is one file. ``mirror_path`` is where the file lies in a local mirror
(``FEDMIN_DATA_MIRROR``) and, after ``fedmin data fetch``, in the raw data directory. The
mirror copies are regional extracts pinned by ``sha256``; ``url`` is the official source,
spoken to by the adapter its ``protocol`` names (``layers/sources/``): ``file``, a whole
file over HTTP, usually national (``archive_member`` names the file inside it when it is a
zip; ``{fips}`` / ``{state}`` in the URL make it one file per state); ``arcgis``, an ArcGIS
REST feature or map service layer, queried per state or bbox with ``where`` and paged to the
end; ``minmod``, a folder of the MinMod data repository at a pinned commit. Where the
publisher offers no stable direct file, ``url`` is the landing page and ``direct_download``
is false: fetch then says where to get the file instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from layers.errors import NotFoundError
from layers.schema import COVERAGE_KINDS, LayerKind

RETRIEVED_MIRROR = "2026-11-27"


@dataclass(frozen=True)
class Source:
    mirror_path: str
    url: str
    sha256: str | None = None
    direct_download: bool = True
    archive_member: str | None = None
    gdal_layer: str | None = None
    #: Companion files (shapefile sidecars) fetched with the main file.
    companions: tuple[tuple[str, str], ...] = ()
    #: A *folder source* (MinMod dataset): ``mirror_path`` is a folder of hash buckets
    #: ``bNNN.json`` or ``bNNN.json.gz`` and this is the mirror path of its checksum list
    #: (``CONTENT.sha256``: ``<sha256>  <path>`` lines, paths relative to the list's own
    #: folder, sha256 of the DECOMPRESSED content). Every bucket the list names under
    #: ``mirror_path`` is verified against it; ``sha256`` then pins the list itself.
    content_sha256: str | None = None

    @property
    def is_folder(self) -> bool:
        return self.content_sha256 is not None

    #: How ``url`` is fetched: "file", "arcgis" or "minmod" (see the module docstring).
    protocol: Literal["file", "arcgis", "minmod"] = "file"
    #: arcgis: this source's attribute filter (e.g. the closed / not closed split).
    where: str = "1=1"
    #: arcgis: the field holding the state postal code; ``--states`` then filters on it
    #: rather than querying the states' bounding boxes.
    state_field: str | None = None
    #: Name (without suffix) of an official fetch in downloads/; default the mirror file's.
    fetch_name: str | None = None

    @property
    def per_state(self) -> bool:
        """A file source published as one file per state (``{fips}`` or ``{state}``)."""
        return self.protocol == "file" and ("{fips}" in self.url or "{state}" in self.url)


@dataclass(frozen=True)
class Coverage:
    """Where a deposits layer has data: whole ``states``, a ``bbox``, or the nation."""

    kind: str
    note: str
    states: tuple[str, ...] = ()
    bbox: tuple[float, float, float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in COVERAGE_KINDS:
            raise ValueError(f"unknown coverage kind {self.kind!r}")


#: The lower 48 states and DC (postal codes): the area the coarse federal-lands layer maps.
LOWER_48: tuple[str, ...] = (
    "AL", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "ID", "IL", "IN", "IA",
    "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX",
    "UT", "VT", "VA", "WA", "WV", "WI", "WY",
)  # fmt: skip


@dataclass(frozen=True)
class LandCoverage:
    """What a land layer covers, so that land status is only ever inferred where known.

    ``states``: the states the layer is declared for (postal codes; empty = nationwide).
    ``complete``: the layer maps *all* federal land in those states, so a point there on
    no unit of any layer is known to be non-federal. A layer that maps only its own units
    (parks, wilderness, protected areas) is not complete: outside its units it says
    nothing, and where no complete layer covers a point its status is ``unknown``.
    ``blm_designations``: the layer maps BLM's national monuments and national
    conservation areas in those states, so BLM land there off them reads as open; BLM
    land of states no layer maps them in is ``unknown`` (``layers.blm_screening``).
    """

    states: tuple[str, ...] = ()
    complete: bool = False
    note: str = ""
    blm_designations: bool = False


@dataclass(frozen=True)
class Layer:
    id: str
    title: str
    kind: LayerKind
    sources: tuple[Source, ...]
    reader: str
    normalizer: str
    publisher: str
    license: str
    caveats: str
    #: canonical column -> source column (documentation and the normalizer's input).
    columns: dict[str, str] = field(default_factory=dict)
    #: Layer-specific normalizer options (fixed agency, rows to exclude, ...).
    options: dict[str, object] = field(default_factory=dict)
    #: Infrastructure layers cover either the whole country or the states listed in
    #: ``options["coverage_states"]``; outside its coverage a distance is unknown (null).
    #: Optional layers may be absent (no mirror copy, no network); everything downstream
    #: then reports the gap instead of failing.
    optional: bool = False
    retrieved: str = RETRIEVED_MIRROR
    #: Land layers only: what the layer covers (see ``LandCoverage``).
    land_coverage: LandCoverage | None = None
    #: Deposits layers: where the layer has data (the ``deposit_coverage`` collection).
    coverage: Coverage | None = None
    #: The publisher's own release of data that reached fedmin through an intermediary
    #: (MinMod's copy of MRDS -> the USGS national download), for provenance.
    upstream: tuple[str, ...] = ()
    #: Link to one record's page at its publisher; ``{record_id}`` is filled in.
    record_url: str | None = None
    #: Deposit layers that compile large known deposits (major deposits, porphyry copper):
    #: a deposit big enough for such a list has been drilled out, most of them mined, so the
    #: ranking counts it as development evidence whatever its status (docs/scoring.md).
    large_deposit_compilation: bool = False

    @property
    def primary(self) -> Source:
        return self.sources[0]


MRDS_REPORT_URL = "https://mrdata.usgs.gov/mrds/show-mrds.php?dep_id={}"
MINMOD_SAME_AS_DIR = "deposits/minmod/ta2-minmod-data/data/same-as"

# --- official services (checked in the publishers' service directories; docs/data.md) ----
#: BLM MLRS mining claims map service: layer 1 not closed, layer 2 closed.
BLM_MLRS_CLAIMS = "https://gis.blm.gov/nlsdb/rest/services/Mining_Claims/MiningClaims/MapServer"
#: BLM Surface Management Agency, BLM-managed land only (layer 2 as on BLM's service
#: directory; `fedmin data status` checks it answers).
BLM_SMA_BLM_ONLY = (
    "https://gis.blm.gov/arcgis/rest/services/lands/BLM_Natl_SMA_Cached_BLM_Only/MapServer"
)
#: PAD-US 4.1 map service of the USGS (The National Map).
PADUS_4_1 = "https://edits.nationalmap.gov/arcgis/rest/services/PAD-US/PAD_US_4_1/MapServer"
#: HIFLD / EIA electric power transmission lines (moved from services1 in August 2025).
HIFLD_TRANSMISSION = (
    "https://services2.arcgis.com/FiaPA4ga0iQKduv3/arcgis/rest/services/"
    "US_Electric_Power_Transmission_Lines/FeatureServer"
)
#: Census TIGER/Line 2024 primary and secondary roads, one zipped shapefile per state.
TIGER_PRISEC = "https://www2.census.gov/geo/tiger/TIGER2024/PRISECROADS"
#: BLM generalized national NLCS feature service (layer 2: wilderness study areas).
BLM_NLCS_GENERALIZED = (
    "https://gis.blm.gov/arcgis/rest/services/lands/BLM_Natl_NLCS_Generalized/FeatureServer"
)


def _us_atlas_layer(layer_id: str, level: str, sha256: str) -> Layer:
    """States and counties come from the same us-atlas package, one TopoJSON each."""
    return Layer(
        id=layer_id,
        title=f"US {layer_id} (Census cartographic boundaries 2017)",
        kind=LayerKind.BOUNDARIES,
        sources=(
            Source(
                f"boundaries/{layer_id}-10m.json",
                f"https://cdn.jsdelivr.net/npm/us-atlas@3.0.1/{layer_id}-10m.json",
                sha256,
                gdal_layer=layer_id,
            ),
        ),
        reader="vector",
        normalizer="boundaries",
        publisher="U.S. Census Bureau, via the us-atlas npm package 3.0.1",
        license="ISC (us-atlas); public domain (Census)",
        caveats="1:10m cartographic boundaries, TopoJSON without a declared CRS (EPSG:4326).",
        columns={"id": "id", "name": "name"},
        options={"level": level},
    )


#: Lon/lat boxes around the lower 48, Alaska (east of the antimeridian) and Hawaii: world
#: base-map layers are clipped to them.
US_EXTENT_BOXES: tuple[tuple[float, float, float, float], ...] = (
    (-125.0, 24.0, -66.0, 50.0),
    (-180.0, 51.0, -129.0, 72.0),
    (-161.0, 18.5, -154.5, 22.5),
)


def _natural_earth_basemap_layer(
    layer_id: str,
    title: str,
    name: str,
    sha256: str,
    *,
    caveats: str,
    columns: dict[str, str],
    options: dict[str, object],
) -> Layer:
    """A Natural Earth 1:10m layer of the offline base map: mirror GeoJSON, official zip."""
    basename = name.split("/")[1]
    return Layer(
        id=layer_id,
        title=title,
        kind=LayerKind.BASEMAP,
        sources=(
            Source(
                f"basemap/{basename}.json",
                f"https://naciscdn.org/naturalearth/10m/{name}.zip",
                sha256,
                archive_member=f"{basename}.shp",
            ),
        ),
        reader="vector",
        normalizer="basemap",
        publisher="Natural Earth (1:10m)",
        license="public domain",
        caveats=caveats,
        columns=columns,
        options=options,
    )


def _padus_subset(
    layer_id: str, title: str, path: str, sha256: str, caveats: str, coverage: LandCoverage
) -> Layer:
    """A state subset of PAD-US 3.0 (Combined) with the designation in the NAME."""
    return Layer(
        id=layer_id,
        title=title,
        kind=LayerKind.FEDERAL_LANDS,
        sources=(
            Source(
                path,
                "https://www.sciencebase.gov/catalog/item/61794fc2d34ea58c3c6f9f69",
                sha256,
                direct_download=False,
            ),
        ),
        reader="vector",
        normalizer="lands",
        publisher="USGS Gap Analysis Project, PAD-US 3.0 (Combined)",
        license="public domain",
        caveats=caveats,
        columns={"source_id": "id", "name": "NAME", "agency": "MANNAME"},
        options={"designation_from_name": True, "federal_only": True},
        land_coverage=coverage,
    )


def _same_as(path: str, sha256: str) -> Source:
    """One MinMod same-as table of ta2-minmod-data (gzip-compressed where it ends .gz)."""
    return Source(
        f"{MINMOD_SAME_AS_DIR}/{path}",
        f"https://github.com/DARPA-CRITICALMAAS/ta2-minmod-data/tree/050de430/data/same-as/{path}",
        sha256,
        direct_download=False,
    )


LAYERS: tuple[Layer, ...] = (
    # --- deposits -------------------------------------------------------------------------
    Layer(
        id="mrds",
        title="USGS Mineral Resources Data System (MRDS), northern California",
        kind=LayerKind.DEPOSITS,
        sources=(
            Source(
                "deposits/mrds_norcal/MRDS.txt",
                "https://mrdata.usgs.gov/mrds/rdbms-tab-all.zip",
                "160590396c277d15d2d7df95009b8b7cbf17bd46d997f93b04e329842685867d",
                archive_member="MRDS.txt",
            ),
        ),
        reader="mrds_tab",
        normalizer="mrds",
        publisher="U.S. Geological Survey",
        license="public domain",
        caveats=(
            "MRDS has not been systematically updated since 2011; locations are approximate "
            "and some records are duplicates. The mirror holds the 4,330 sites of a northern "
            "California box (-124.38..-122.39 W, 40.07..41.74 N); state and county come from "
            "an overlay with Census county boundaries."
        ),
        coverage=Coverage(
            "region_box",
            "northern California box (-124.38..-122.39 W, 40.07..41.74 N)",
            bbox=(-124.38, 40.07, -122.39, 41.75),
        ),
        upstream=("https://mrdata.usgs.gov/mrds/rdbms-tab-all.zip",),
        columns={
            "source_id": "dep_id",
            "name": "name",
            "dev_status": "dev_stat",
            "source_url": "url",
            "commodities": "code_list",
            "geometry": "longitude, latitude",
        },
    ),
    Layer(
        id="usmin_mine_features",
        title="USGS USMIN mine features from topographic maps, northern California",
        kind=LayerKind.DEPOSITS,
        sources=(
            Source(
                "deposits/usmin_mine_features_norcal.geojson",
                "https://www.sciencebase.gov/catalog/item/5a1492c3e4b09fc93dcfd574",
                "ea822c73cceb726dfe3ec5f4c48248cf83f7d53344f05ba49f23bbce413d13e9",
                direct_download=False,
            ),
        ),
        reader="vector",
        normalizer="usmin_features",
        publisher="U.S. Geological Survey (USMIN Mineral Deposit Database)",
        license="public domain",
        caveats=(
            "Symbols digitized from historical topographic maps (adits, shafts, pits): "
            "evidence of past workings, not of a commodity. They carry no commodity, so they "
            "count as development evidence and never as potential. Borrow, gravel and sand "
            "pits are construction workings and are dropped."
        ),
        coverage=Coverage(
            "region_box",
            "northern California box (-124.38..-122.39 W, 40.07..41.74 N)",
            bbox=(-124.38, 40.07, -122.39, 41.75),
        ),
        columns={
            "name": "FTR_NAME",
            "source_id": "GDA_ID",
            "state": "STATE",
            "county": "COUNTY",
            "dev_status": "FTR_TYPE",
        },
        options={
            "excluded_feature_types": (
                "Borrow Pit",
                "Gravel Pit",
                "Sand Pit",
                "Gravel/Borrow Pit - Undifferentiated",
            )
        },
    ),
    Layer(
        id="usgs_lithium",
        title="USGS lithium deposits in the United States (2019)",
        kind=LayerKind.DEPOSITS,
        sources=(
            Source(
                "deposits/usgs_lithium_2019/Site.csv",
                "https://doi.org/10.5066/P9ZKRWQF",
                "ae0d7a7fecfa96017565a306561cf53aa32dfe28926ebad9a0b31637428629fd",
                direct_download=False,
            ),
            Source(
                "deposits/usgs_lithium_2019/Production.csv",
                "https://doi.org/10.5066/P9ZKRWQF",
                "70e60d9991d0cfc0916ef6b35a1d125575499438c72c255f9fb26e6943cf3c42",
                direct_download=False,
            ),
        ),
        reader="csv",
        normalizer="usgs_lithium",
        publisher="U.S. Geological Survey (Karl and others, 2019)",
        license="public domain",
        caveats=(
            "21 sites at their approximate site location (Approx_Lon/Lat). dev_status is "
            "'past_producer' for sites with a record in Production.csv and 'unknown' otherwise: "
            "the dataset has no development-status field."
        ),
        coverage=Coverage("national_compilation", "national, lithium deposits only (21 sites)"),
        columns={
            "source_id": "Site_ID *",
            "name": "Site_Name",
            "commodities": "Commodity",
            "geometry": "Approx_Lon, Approx_Lat",
        },
    ),
    Layer(
        id="mrds_tungsten",
        title="MRDS tungsten records of Nevada and California",
        kind=LayerKind.DEPOSITS,
        sources=(
            Source(
                "deposits/tungsten/mrds_tungsten_records_nv_ca.csv",
                "https://github.com/DARPA-CRITICALMAAS/umn-ta2-mineral-site-linkage",
                "a278d107cfe8e73c0700128b77deb475a99b08b3b6e7ffc7f97ab35d0ac4dc21",
                direct_download=False,
            ),
        ),
        reader="csv",
        normalizer="mrds_tungsten",
        publisher="U.S. Geological Survey MRDS, processed by DARPA CriticalMAAS MinMod",
        license="public domain (data); MIT (repository)",
        caveats=(
            "Only the tungsten commodity of each record is given and no development status "
            "(dev_status 'unknown'); deposit types are machine-inferred. Ids are "
            "mrds_tungsten:<dep_id>; dep_id links them to the other MRDS records of a site "
            "(layers/sites.py)."
        ),
        coverage=Coverage(
            "national_compilation", "MRDS tungsten records only", states=("NV", "CA")
        ),
        columns={
            "source_id": "record_id",
            "name": "site_name",
            "state": "state_or_province",
            "commodities": "commodity",
            "geometry": "location (WKT)",
        },
    ),
    Layer(
        id="porphyry_copper",
        title="USGS porphyry copper deposits of the world (2008), United States",
        kind=LayerKind.DEPOSITS,
        sources=(
            Source(
                "deposits/usgs_porphyry_copper_2008/PorCuEX2008.csv",
                "https://pubs.usgs.gov/of/2008/1155/",
                "9972e3f95e2cc4ecb81d8766f8df3508cc738cd6c047a55039a002f912fa30c8",
                direct_download=False,
            ),
        ),
        reader="csv",
        normalizer="porphyry_copper",
        publisher="U.S. Geological Survey (Singer, Berger and Moring, 2008, OFR 2008-1155)",
        license="public domain",
        caveats=(
            "Major deposits only, 2008 vintage; only the United States rows are kept. "
            "Tonnage (Mt) and grades are kept in details; a grade of 0 means not reported. "
            "The table has no development status: dev_status 'unknown'."
        ),
        coverage=Coverage("national_compilation", "national, major porphyry copper deposits only"),
        columns={
            "source_id": "DepositID",
            "name": "NameDeposit",
            "state": "StateProvince",
            "geometry": "LongitudeDecimal, LatitudeDecimal",
        },
        large_deposit_compilation=True,
    ),
    # --- sites (derived from every deposits layer) -----------------------------------------
    Layer(
        id="sites",
        title="Deposit sites: the records of every deposits layer linked into one per deposit",
        kind=LayerKind.SITES,
        sources=(
            _same_as(
                "bvu/same_as.csv",
                "2563a7a1c308a5b3c8ab295388b80f90181b44b7f292f91e871f15a8117e21a2",
            ),
            _same_as(
                "caknoblock/same_as.csv",
                "f2359104ddc21f07c00f25bbae91529ff3d029a8505283917a83538ac46c8e8f",
            ),
            _same_as(
                "ggraham/same_as.csv",
                "854c8b637e031f3064fe38cd74b977922a0a383610c6fc184a3c9fad20b014c9",
            ),
            _same_as(
                "glederer/same_as.csv",
                "6d3e2dd6f8b5fca580df296e5bbc04f460889b1c88e9cfa040679a8845fe38ac",
            ),
            _same_as(
                "jhammars/same_as.csv",
                "9fa56e8eae9b5a687e7c22461efefaa0319b07e86f5b9d26e71c6f2dee67ef61",
            ),
            _same_as(
                "umn/part-0039.csv.gz",
                "8453de2c0b58abbf8d4d26323cb8a385794b79b3dd16b03b48cf76135812ec2d",
            ),
            Source(
                "deposits/minmod/ta2-minmod-data-sample/050079af/data/same-as/umn/sameas.csv.gz",
                "https://github.com/binh-vu/ta2-minmod-data-sample/tree/050079af/data/same-as/umn",
                "b6ed5e67dc99f3b640b179147551021017965f3189a02d6e3ae39168a966b4ed",
                direct_download=False,
            ),
        ),
        reader="csv",
        normalizer="sites",
        publisher=(
            "fedmin (derived from the deposits layers); same-as links by MinMod "
            "(USC ISI, U. Minnesota and individual curators)"
        ),
        license="MIT (ta2-minmod-data); the records keep their own licences",
        caveats=(
            "Derived at build time: records of different layers linked by MRDS dep_id, by "
            "MinMod same-as links and by nearby matching names (layers/sites.py; precision "
            "and recall of the name rule in docs/data.md). Every record is kept in its own "
            "layer; a site lists its records. Location, name and source fields come from "
            "the record of the best-ranked source; development status is the most developed "
            "of any record."
        ),
        columns={"ms_1": "ms_1", "ms_2": "ms_2", "is_same": "is_same"},
    ),
    # --- federal lands --------------------------------------------------------------------
    Layer(
        id="usfs_ranger_districts",
        title="US Forest Service ranger districts",
        kind=LayerKind.FEDERAL_LANDS,
        sources=(
            Source(
                "lands/usfs_ranger_districts_us.gpkg",
                "https://data.fs.usda.gov/geodata/edw/edw_resources/shp/S_USA.RangerDistrict.zip",
                "08b6db9ea7fd072bcbf0769378429b0abbf323e7adc7b1417a49000f73e0565b",
                archive_member="S_USA.RangerDistrict.shp",
            ),
        ),
        reader="vector",
        normalizer="lands",
        publisher="USDA Forest Service (EDW S_USA.RangerDistrict)",
        license="public domain (data); MIT (repository)",
        caveats=(
            "Administrative boundaries simplified upstream to about 1 km; private inholdings "
            "lie inside. National forest land is open to mineral entry unless withdrawn "
            "(wilderness overlays it with higher precedence)."
        ),
        columns={"source_id": "RANGERDIST", "name": "DISTRICTNA", "forest": "FORESTNAME"},
        options={"agency": "USFS", "designation": "national_forest"},
        land_coverage=LandCoverage(note="Forest Service ranger districts nationwide"),
    ),
    Layer(
        id="federal_lands_coarse",
        title="Federal lands of the lower 48 by managing agency (coarse)",
        kind=LayerKind.FEDERAL_LANDS,
        sources=(
            Source(
                "lands/federal_lands_by_agency_conus_coarse.gpkg",
                "https://www.sciencebase.gov/catalog/item/4f70b1f4e4b058caae3f8e1b",
                "4c5f6fe0e3634723efc98a83fbd6f43bd6899afcc4902c699efcd778e8cf9064",
                direct_download=False,
            ),
        ),
        reader="vector",
        normalizer="lands",
        publisher="USGS National Atlas, Federal Lands of the United States (about 2005)",
        license="public domain (data); MIT (repository)",
        caveats=(
            "COARSE: edges good to a few km, no unit names, inholdings not cut out. The only "
            "BLM surface land available here. Forest Service polygons are dropped (the ranger "
            "districts are more detailed) and so are the 2 features flagged as coastal-strip "
            "artifacts. Not for legal land-status calls."
        ),
        columns={"agency": "agency", "state_fips": "state_fips", "qc_flag": "qc_flag"},
        options={"drop_agencies": ("FS",), "drop_qc_flagged": True},
        land_coverage=LandCoverage(
            LOWER_48,
            complete=True,
            note="all federal land of the lower 48 by agency (coarse): off every unit there, "
            "land is non-federal",
        ),
    ),
    Layer(
        id="nps_units",
        title="National Park Service units (Natural Earth)",
        kind=LayerKind.FEDERAL_LANDS,
        sources=(
            Source(
                "lands/ne_10m_parks_and_protected_lands_area.geojson",
                "https://naciscdn.org/naturalearth/10m/cultural/ne_10m_parks_and_protected_lands.zip",
                "ca137db1d5eaacb0812447b13e6c56dab4db6b7e001b2aa00914194acfed2769",
                archive_member="ne_10m_parks_and_protected_lands_area.shp",
            ),
        ),
        reader="vector",
        normalizer="lands",
        publisher="Natural Earth (1:10m parks and protected lands)",
        license="public domain",
        caveats="Small-scale generalization; only the larger NPS units (61).",
        columns={"source_id": "unit_code", "name": "unit_name", "designation": "unit_type"},
        options={"agency": "NPS"},
        land_coverage=LandCoverage(note="the larger National Park Service units nationwide"),
    ),
    Layer(
        id="usfs_wilderness",
        title="Forest Service wilderness areas",
        kind=LayerKind.FEDERAL_LANDS,
        sources=(
            Source(
                "lands/usfs_wilderness_us.geojson",
                "https://data.fs.usda.gov/geodata/edw/edw_resources/shp/S_USA.Wilderness.zip",
                "342a02a24d6a2538dca90b3c4a223418d6c8f3e1c1d6e64fdfc9dd453fa17519",
                archive_member="S_USA.Wilderness.shp",
            ),
        ),
        reader="vector",
        normalizer="lands",
        publisher="USDA Forest Service (S_USA.Wilderness)",
        license="public domain",
        caveats="Forest Service-managed wilderness only; vintage unknown.",
        columns={"source_id": "WID", "name": "WILDERNE_1"},
        options={"agency": "USFS", "designation": "wilderness"},
        land_coverage=LandCoverage(note="Forest Service wilderness nationwide"),
    ),
    Layer(
        id="blm_wilderness",
        title="BLM wilderness areas (geometry only)",
        kind=LayerKind.FEDERAL_LANDS,
        sources=(
            Source(
                "lands/blm_wilderness_geometry_only.geojson",
                "https://gbp-blm-egis.hub.arcgis.com/datasets/blm-natl-nlcs-wilderness-areas-polygons",
                "dbbe833e2eac5df122deb0416d1c8073e1eddbcbc0520007656c6d4b33473a4a",
                direct_download=False,
            ),
        ),
        reader="vector",
        normalizer="lands",
        publisher="Bureau of Land Management (NLCS wilderness)",
        license="public domain",
        caveats="Every attribute is null upstream: no names; heavily simplified.",
        options={"agency": "BLM", "designation": "wilderness"},
        land_coverage=LandCoverage(note="BLM wilderness nationwide"),
    ),
    Layer(
        id="blm_wsa",
        title="BLM wilderness study areas",
        kind=LayerKind.FEDERAL_LANDS,
        sources=(
            Source(
                "lands/blm_wilderness_study_areas_geometry_only.geojson",
                f"{BLM_NLCS_GENERALIZED}/2",
                "b435433ada68bf224d86f9d40862e5246594e0b5b75183bb1c320b4aa7c2f728",
                protocol="arcgis",
                fetch_name="blm_nlcs_wilderness_study_areas",
            ),
        ),
        reader="vector",
        normalizer="lands",
        publisher="Bureau of Land Management (NLCS wilderness study areas)",
        license="public domain",
        caveats=(
            "The mirror copy is geometry only (every attribute null upstream: no names) and "
            "heavily simplified; an official fetch (`--states`) brings the names (NLCS_NAME) "
            "of the BLM's generalized national NLCS service."
        ),
        columns={"name": "NLCS_NAME"},
        options={"agency": "BLM", "designation": "wilderness_study_area"},
        land_coverage=LandCoverage(note="BLM wilderness study areas nationwide"),
    ),
    Layer(
        id="padus_nv",
        title="PAD-US 3.0 designations, Nevada subset",
        kind=LayerKind.FEDERAL_LANDS,
        sources=(
            Source(
                "lands/padus3_designations_nv_subset.geojson",
                "https://www.sciencebase.gov/catalog/item/61794fc2d34ea58c3c6f9f69",
                "54caa3977f69e9b5f8d6d2cc16b28cf7ceb280d5cbc650cc1049c98826499d0e",
                direct_download=False,
            ),
        ),
        reader="vector",
        normalizer="lands",
        publisher="USGS Gap Analysis Project, PAD-US 3.0 Designation",
        license="public domain",
        caveats=(
            "A subset filtered upstream: no wilderness study areas, no designation type or GAP "
            "status; the designation is read from the NAME. Non-federal (state) rows dropped."
        ),
        columns={"source_id": "id", "name": "NAME", "agency": "MANNAME"},
        options={"designation_from_name": True, "federal_only": True},
        land_coverage=LandCoverage(
            ("NV",),
            note="a filtered subset of Nevada's designations (its BLM monuments and NCAs as "
            "of 2022: Avi Kwa Ame NM, 2023, is missing)",
            blm_designations=True,
        ),
    ),
    Layer(
        id="blm_sma",
        title="BLM Surface Management Agency: BLM-managed surface",
        kind=LayerKind.FEDERAL_LANDS,
        sources=(
            Source(
                "lands/blm_sma_blm_only.json",
                f"{BLM_SMA_BLM_ONLY}/2",
                protocol="arcgis",
                fetch_name="blm_sma_blm_only",
            ),
        ),
        reader="vector",
        normalizer="lands",
        publisher="Bureau of Land Management (Surface Management Agency, BLM only)",
        license="public domain",
        caveats=(
            "No mirror copy: fetched per state or bbox from the BLM SMA service. The surface "
            "managing agency, not ownership; split estate and withdrawals are not in it. At "
            "full resolution, unlike the coarse federal lands layer."
        ),
        columns={"name": "ADMIN_UNIT_NAME"},
        options={"agency": "BLM", "designation": "blm_public_land"},
        land_coverage=LandCoverage(note="BLM-managed surface of the fetched area (BLM only)"),
        optional=True,
    ),
    Layer(
        id="padus4",
        title="PAD-US 4.1 federally managed areas, by state",
        kind=LayerKind.FEDERAL_LANDS,
        sources=(
            Source(
                "lands/padus4_federal.json",
                f"{PADUS_4_1}/0",
                protocol="arcgis",
                where="Mang_Type = 'FED'",
                state_field="State_Nm",
                fetch_name="padus4_1_federal",
            ),
        ),
        reader="vector",
        normalizer="lands",
        publisher="USGS Gap Analysis Project, PAD-US 4.1",
        license="public domain",
        caveats=(
            "No mirror copy: fetched per state (State_Nm) from the PAD-US 4.1 service, "
            "federally managed rows only (Mang_Type FED). The designation is read from the "
            "unit name (Unit_Nm), the agency from Mang_Name."
        ),
        columns={"name": "Unit_Nm", "agency": "Mang_Name"},
        land_coverage=LandCoverage(
            note="PAD-US 4.1 federal units of the fetched states", blm_designations=True
        ),
        optional=True,
    ),
    Layer(
        id="nv_blm_nlcs",
        title="BLM Nevada national conservation areas and monuments (2016)",
        kind=LayerKind.FEDERAL_LANDS,
        sources=(
            Source(
                "lands/nv_blm_conservation_lands_monuments_2016.geojson",
                "https://github.com/OpenBounds/PublicLands",
                "7d9cf92940497703ed6260439ccc7641c3af34087ee984bf51ca6362caf190d5",
                direct_download=False,
            ),
        ),
        reader="vector",
        normalizer="lands",
        publisher="BLM Nevada (NV_NLCS_NM_NCA)",
        license="public domain (data); MIT (repository)",
        caveats=(
            "2016 snapshot: lacks Gold Butte NM (2016) and Avi Kwa Ame NM (2023). It labels "
            "Tule Springs Fossil Beds as BLM although it is an NPS unit; kept as published."
        ),
        columns={"source_id": "id", "name": "name", "designation": "type"},
        options={"agency": "BLM"},
        land_coverage=LandCoverage(("NV",), note="BLM Nevada NCAs and monuments (2016)"),
    ),
    Layer(
        id="co_ut_wilderness",
        title="Designated wilderness of Colorado and Utah",
        kind=LayerKind.FEDERAL_LANDS,
        sources=(
            Source(
                "lands/coutwildrnp.shp",
                "https://github.com/Toblerity/Fiona/tree/main/tests/data",
                "fc9f563b2b0f52ec82a921137f47e90fdca307cc3a463563387217b9f91d229b",
                direct_download=False,
                companions=(
                    (
                        "lands/coutwildrnp.shx",
                        "6a2cf6b92411645b5d80269f160468db9ca8a4c39e8830a1ca65a119a8ff2e4b",
                    ),
                    (
                        "lands/coutwildrnp.dbf",
                        "6ca279231edf6af3c61110b0fe5b9ac35126a4b53d828851fcbb8b3451de1369",
                    ),
                    (
                        "lands/coutwildrnp.prj",
                        "98aaf3d1c0ecadf1a424a4536de261c3daf4e373697cb86c40c43b989daf52eb",
                    ),
                    (
                        "lands/coutwildrnp.cpg",
                        "a3f0ff89bfa939fbbfc782709b68ee37cb9ec8f031c0dbfbe21c3c02a26264d4",
                    ),
                ),
            ),
        ),
        reader="vector",
        normalizer="lands",
        publisher="USGS National Atlas (wildrnp020)",
        license="public domain",
        caveats="Only Colorado and Utah.",
        columns={"source_id": "WILDRNP020", "name": "NAME", "agency": "AGBUR"},
        options={"designation": "wilderness"},
        land_coverage=LandCoverage(("CO", "UT"), note="designated wilderness of CO and UT"),
    ),
    _padus_subset(
        "padus_wy_blm",
        "PAD-US 3.0 BLM units, Wyoming subset (wilderness study areas, ACECs)",
        "lands/padus3_blm_combined_wy_subset.geojson",
        "e71cbee4e99690a9885466c452a291972cf798edbaeded576e3877bc30075040",
        "A filtered subset of 67 named BLM units (51 wilderness study areas, 3 ACECs, a "
        "special recreation management area and 12 units whose designation is not stated), "
        "simplified upstream; the designation is read from the NAME. Not all BLM land of "
        "Wyoming: the coarse layer still maps that.",
        LandCoverage(("WY",), note="named BLM units of Wyoming (a subset)"),
    ),
    _padus_subset(
        "padus_nm",
        "PAD-US 3.0 units, New Mexico subset (national forests, monuments, BLM units)",
        "lands/padus3_combined_nm_subset.geojson",
        "2d7984b50a5b8eb03f9685895348ae68d09a8fea014a66d6a6d9b9dafaebc76b",
        "A filtered, simplified subset of 100 units; state and local parks (not federally "
        "managed) are dropped, the designation is read from the NAME. Some rows carry stray "
        "National Atlas fields, ignored.",
        LandCoverage(("NM",), note="named federal units of New Mexico (a subset)"),
    ),
    Layer(
        id="ak_protected_areas",
        title="Protected areas of Alaska (CEC North American Protected Areas 2010)",
        kind=LayerKind.FEDERAL_LANDS,
        sources=(
            Source(
                "lands/ak_protected_areas_cec2010/ak_protected_areas.shp",
                "https://www.cec.org/north-american-environmental-atlas/north-american-protected-areas-2010/",
                "2c9753e0fdf3a88f6e42b34d1688efdbf42d53e9b4e3796b2678a0070e753ea5",
                direct_download=False,
                companions=(
                    (
                        "lands/ak_protected_areas_cec2010/ak_protected_areas.shx",
                        "da397a1b0db00074a4e29065d5a64afcf4a9463ed4a05cfdc87eef98a75c4fe1",
                    ),
                    (
                        "lands/ak_protected_areas_cec2010/ak_protected_areas.dbf",
                        "1d3d22d9428a99e620aa8777e20ea4355ffd317b2981c967b5429d8b1b2596a8",
                    ),
                    (
                        "lands/ak_protected_areas_cec2010/ak_protected_areas.prj",
                        "b98ae059b6efe2c3d70a2fe5776e3394ae78ebee1754b2fed102dcf63e25916a",
                    ),
                    (
                        "lands/ak_protected_areas_cec2010/ak_protected_areas.cpg",
                        "09fc313075748ce8ead962229ed89c919d5a9ff71974ee725a0b48bb87d975a2",
                    ),
                ),
            ),
        ),
        reader="vector",
        normalizer="lands",
        publisher="Commission for Environmental Cooperation (North American Protected Areas 2010)",
        license="MIT (repository); CEC atlas data",
        caveats=(
            "2010 vintage, simplified, EPSG:3338 (reprojected to lon/lat, polygons crossing "
            "the antimeridian cut along it). Protected units only: general BLM land, state "
            "land and Native corporation land of Alaska are NOT in it, so outside these units "
            "Alaska land status is unknown, not non-federal. State areas (parks, refuges, "
            "habitat areas) are kept as known non-federal land; the Dalton Highway Corridor, "
            "a state management area over largely BLM land, stays of unknown status."
        ),
        columns={"source_id": "id", "name": "name", "designation": "area_type"},
        options={"cec_alaska": True},
        land_coverage=LandCoverage(
            ("AK",), note="Alaska's protected units only; elsewhere in Alaska status is unknown"
        ),
    ),
    # --- claims ---------------------------------------------------------------------------
    Layer(
        id="blm_claims",
        title="BLM mining claims (MLRS), not closed and closed",
        kind=LayerKind.CLAIMS,
        sources=(
            Source(
                "claims/blm_mining_claims_norcal_active.geojson",
                f"{BLM_MLRS_CLAIMS}/1",
                "fdcd614d8409cf6239cc531c464940db6a48bf6346627d1fcff5c4f316b001dc",
                protocol="arcgis",
                fetch_name="blm_mlrs_mining_claims_not_closed",
            ),
            Source(
                "claims/blm_mining_claims_norcal_closed_first2000.geojson",
                f"{BLM_MLRS_CLAIMS}/2",
                "661933fa1518443c26c234e3e5723b1801be8b5f549aee61abca8ab57ea880f6",
                protocol="arcgis",
                fetch_name="blm_mlrs_mining_claims_closed",
            ),
        ),
        reader="vector",
        normalizer="claims",
        publisher="Bureau of Land Management (MLRS mining claims)",
        license="public domain",
        caveats=(
            "Polygons are the survey-grid parcels (quarter sections and lots) the claims are "
            "recorded in, not surveyed outlines. The mirror holds the northern California box "
            "only, and its closed claims are TRUNCATED at the service's first 2,000 records; "
            "`fedmin data fetch --states ...` pages through every claim of those states from "
            "the MLRS service (layer 1 not closed, layer 2 closed). Outside the fetched area "
            "claims are unknown."
        ),
        columns={
            "id": "CSE_NR",
            "name": "CSE_NAME",
            "claim_type": "BLM_PROD",
            "status": "CSE_DISP",
            "acres": "RCRD_ACRS",
        },
    ),
    # --- infrastructure -------------------------------------------------------------------
    Layer(
        id="ca_state_highways",
        title="California State Highway System (Caltrans)",
        kind=LayerKind.INFRASTRUCTURE,
        sources=(
            Source(
                "infrastructure/caltrans_state_highway_network_ca.gpkg",
                "https://gisdata-caltrans.opendata.arcgis.com/datasets/state-highway-network-lines",
                "f637a615f3fe8750428965252a33b490430cc19b61bcc8a476244096eb677127",
                direct_download=False,
                gdal_layer="state_highway_lines",
            ),
        ),
        reader="vector",
        normalizer="infrastructure",
        publisher="Caltrans (inferred from the fields)",
        license="unstated in the repository it came from",
        caveats=(
            "State highways only: no county or forest roads, nothing outside California. "
            "Each route appears once per direction."
        ),
        columns={"name": "Route", "class": "Direction"},
        options={"kind": "road", "class": "state_highway", "coverage_states": ("CA",)},
    ),
    Layer(
        id="tiger_primary_roads",
        title="Census TIGER/Line primary roads (national)",
        kind=LayerKind.INFRASTRUCTURE,
        sources=(
            Source(
                "infrastructure/tl_2024_us_primaryroads.zip",
                "https://www2.census.gov/geo/tiger/TIGER2024/PRIMARYROADS/tl_2024_us_primaryroads.zip",
                archive_member="tl_2024_us_primaryroads.shp",
            ),
        ),
        reader="vector",
        normalizer="infrastructure",
        publisher="U.S. Census Bureau (TIGER/Line 2024)",
        license="public domain",
        caveats="No mirror copy: fetched from the Census Bureau when the internet is reachable.",
        columns={"source_id": "LINEARID", "name": "FULLNAME", "class": "MTFCC"},
        options={"kind": "road"},
        optional=True,
    ),
    Layer(
        id="ca_transmission_lines",
        title="Electric transmission lines, California (geometry only)",
        kind=LayerKind.INFRASTRUCTURE,
        sources=(
            Source(
                "infrastructure/transmission_lines_ca_geometry_only.shp",
                "https://hifld-geoplatform.hub.arcgis.com/datasets/geoplatform::transmission-lines",
                "56b63a70eb641108c1198b0e19f86d1159f26991a59214de13fd930149f3f951",
                direct_download=False,
                companions=(
                    (
                        "infrastructure/transmission_lines_ca_geometry_only.shx",
                        "2814b2759d239a5ddb8ce4a06a58c21dc696f1a58f64e7b42eecfb36df716d67",
                    ),
                    (
                        "infrastructure/transmission_lines_ca_geometry_only.dbf",
                        "7289e9e9d7aec18c65bc7b12395abd9ce9d37db264331aa20dd546fa6b1f146c",
                    ),
                    (
                        "infrastructure/transmission_lines_ca_geometry_only.prj",
                        "a02a27b1d1982c8516d83398e85a3c8b1aef1713c13ef4d84d7bde17430c07c4",
                    ),
                    (
                        "infrastructure/transmission_lines_ca_geometry_only.cpg",
                        "09fc313075748ce8ead962229ed89c919d5a9ff71974ee725a0b48bb87d975a2",
                    ),
                ),
            ),
        ),
        reader="vector",
        normalizer="infrastructure",
        publisher="EIA / HIFLD Electric Power Transmission Lines (about 2022)",
        license="public domain",
        caveats=(
            "Voltage, owner and status were lost upstream (class is null); lines near the "
            "state border may be cut short."
        ),
        options={"kind": "power", "coverage_states": ("CA",)},
    ),
    Layer(
        id="hifld_transmission_lines",
        title="HIFLD electric power transmission lines with voltage and status",
        kind=LayerKind.INFRASTRUCTURE,
        sources=(
            Source(
                "infrastructure/Electric_Power_Transmission_Lines.geojson",
                f"{HIFLD_TRANSMISSION}/0",
                protocol="arcgis",
                fetch_name="hifld_transmission_lines",
            ),
        ),
        reader="vector",
        normalizer="infrastructure",
        publisher="Homeland Infrastructure Foundation-Level Data (HIFLD) / EIA",
        license="public domain",
        caveats=(
            "No mirror copy: fetched from the HIFLD service (`fedmin data fetch --states`, or "
            "the whole country). Lines of 69 kV to 765 kV; class is the voltage class "
            "(VOLT_CLASS), name the owner. Lines whose STATUS is not IN SERVICE or NOT "
            "AVAILABLE (proposed, under construction, inactive) are dropped: they give no access."
        ),
        columns={"source_id": "ID", "class": "VOLT_CLASS", "name": "OWNER"},
        options={
            "kind": "power",
            "keep_values": ("STATUS", ("IN SERVICE", "NOT AVAILABLE")),
        },
        optional=True,
    ),
    Layer(
        id="tiger_prisec_roads",
        title="Census TIGER/Line primary and secondary roads, by state",
        kind=LayerKind.INFRASTRUCTURE,
        sources=(
            Source(
                "infrastructure/tl_2024_prisecroads.vrt",
                f"{TIGER_PRISEC}/tl_2024_{{fips}}_prisecroads.zip",
                archive_member="tl_2024_{fips}_prisecroads.shp",
                fetch_name="tl_2024_prisecroads",
            ),
        ),
        reader="vector",
        normalizer="infrastructure",
        publisher="U.S. Census Bureau (TIGER/Line 2024)",
        license="public domain",
        caveats=(
            "Published one file per state: fetched with `fedmin data fetch --states`, and the "
            "layer then covers exactly those states. Primary (S1100) and secondary (S1200) "
            "roads: no local or forest roads."
        ),
        columns={"source_id": "LINEARID", "name": "FULLNAME", "class": "MTFCC"},
        options={"kind": "road"},
        optional=True,
    ),
    Layer(
        id="railroads",
        title="Railroads of the United States (Natural Earth)",
        kind=LayerKind.INFRASTRUCTURE,
        sources=(
            Source(
                "infrastructure/ne_10m_railroads_north_america.geojson",
                "https://naciscdn.org/naturalearth/10m/cultural/ne_10m_railroads_north_america.zip",
                "70aae0b2f0d840a6f6b86bd50a5d3d617eccf4315695f13ae7031d94f466d79a",
                archive_member="ne_10m_railroads_north_america.shp",
            ),
        ),
        reader="vector",
        normalizer="infrastructure",
        publisher="Natural Earth (1:10m railroads, North America)",
        license="public domain",
        caveats="1:10m generalization, no names; only rows with sov_a3 = USA are kept.",
        columns={"source_id": "uident", "class": "scalerank"},
        options={"kind": "rail", "country_column": "sov_a3", "country": "USA"},
    ),
    # --- boundaries -----------------------------------------------------------------------
    _us_atlas_layer(
        "states", "state", "d76b391ccfa8bff601d51e3e3da5d43a89fa46cd5caca72ce731b383be5596d0"
    ),
    _us_atlas_layer(
        "counties", "county", "145aaf5d1433352a6a1d8e86b5f149c7c653f9171baf14aaf75ee66575def1b0"
    ),
    # --- basemap: the offline base map's places and water (map stream) -------------------
    _natural_earth_basemap_layer(
        "populated_places",
        "Populated places of the United States (Natural Earth)",
        "cultural/ne_10m_populated_places_simple",
        "7aa9f790f790c68cfaf2db25ffe1b0c51be484a5ce225453e7d777e0ff06e7cf",
        caveats=(
            "Small-scale selection: the larger towns only (769 in the US, 7,343 worldwide); "
            "only rows with adm0_a3 = USA are kept. Population is pop_max (the urban area); "
            "state is the postal code of adm1name."
        ),
        columns={
            "name": "name",
            "category": "featurecla",
            "state": "adm1name",
            "population": "pop_max",
            "min_zoom": "min_zoom",
        },
        options={"feature": "place", "country_column": "adm0_a3", "country": "USA"},
    ),
    _natural_earth_basemap_layer(
        "rivers",
        "Rivers and lake centerlines of the United States (Natural Earth)",
        "physical/ne_10m_rivers_lake_centerlines",
        "784acb3c691109ed2f32b6efbc51d7082eb4b16ea8c12f4d83f76bb625845a3e",
        caveats=(
            "Major rivers only (1:10m). The world file is clipped to boxes around the lower "
            "48, Alaska and Hawaii, so rivers of Canada and Mexico near the border remain."
        ),
        columns={"name": "name", "category": "featurecla", "min_zoom": "min_zoom"},
        options={"feature": "river", "clip_boxes": US_EXTENT_BOXES},
    ),
    _natural_earth_basemap_layer(
        "lakes",
        "Lakes of the United States (Natural Earth, North America supplement)",
        "physical/ne_10m_lakes_north_america",
        "95ed1ed4acb51a6e5d26be560a68dd5c193e380a63354c926aba74df2e130be8",
        caveats=(
            "Smaller lakes and reservoirs (1:10m North America supplement): the largest "
            "(Great Lakes, Great Salt Lake, Lake Tahoe) are in Natural Earth's main lakes "
            "file, which is not mirrored. Clipped to boxes around the lower 48, Alaska and "
            "Hawaii."
        ),
        columns={"name": "name", "category": "featurecla", "min_zoom": "min_zoom"},
        options={"feature": "lake", "clip_boxes": US_EXTENT_BOXES},
    ),
    # --- rasters --------------------------------------------------------------------------
    Layer(
        id="srtm_big_tujunga",
        title="SRTM 30 m elevation, Big Tujunga catchment (San Gabriel Mountains)",
        kind=LayerKind.RASTER,
        sources=(
            Source(
                "rasters/srtm_bigtujunga30m_utm11.tif",
                "https://github.com/csdms-contrib/topotoolbox/tree/master/DEMdata",
                "e9a25b3471c5ba237bd621ec036d6b4986dee0290f9030d553e36505e1bc04ab",
                direct_download=False,
            ),
        ),
        reader="raster",
        normalizer="raster",
        publisher="NASA / USGS SRTM",
        license="public domain",
        caveats="A test DEM far from the MRDS extract: about -118.35..-117.95 W, 34.23..34.41 N.",
        options={"units": "m", "nodata": 32767},
    ),
)


# --- MinMod datasets ------------------------------------------------------------------------
# DARPA CriticalMAAS MinMod publishes every dataset it holds as a folder of hash buckets of
# MineralSite records, per creator (umn, sri, a curator...). One fedmin layer per upstream
# dataset; its sources are the folders of every creator (and, for MRDS, every snapshot)
# that hold records of it, oldest first, merged per (source_id, record_id) at build time.

MINMOD_REPOSITORY = "https://github.com/DARPA-CRITICALMAAS/ta2-minmod-data"
MINMOD_COMMIT = "050de430"
MINMOD_SAMPLE_REPOSITORY = "https://github.com/binh-vu/ta2-minmod-data-sample"
MINMOD_CONTENT_LIST = Source(
    "deposits/minmod/CONTENT.sha256",
    MINMOD_REPOSITORY,
    "99c1fc1e8331f4fac6bcaba278aa4a55c50cea948060bf30c5f3eee4ec3617b0",
    direct_download=False,
)
#: Snapshots of MinMod's national MRDS set, oldest first (commit: date of the commit).
MRDS_SNAPSHOTS = (
    ("b7bd0f16", "2025-01-21"),
    ("a10c7d19", "2025-01-23"),
    ("7f8c89ac", "2025-01-27"),
    ("3923e407", "2025-05-27"),
    ("050079af", "2025-06-16"),
)
MINMOD_LICENSE = "MIT (MinMod repository)"
USGS_MINMOD_LICENSE = f"public domain (USGS data); {MINMOD_LICENSE}"
MINMOD_CAVEAT = (
    "Via MinMod: records of one source record by several creators are merged (newest "
    "modified_at wins per field, commodities united); locations reprojected from the "
    "stated CRS; invalid coordinates and records outside the United States (by location, "
    "against the Census state boundaries) are dropped and counted; state and county come "
    "from the county overlay, never from MinMod's state codes."
)


def _minmod_folder(dataset: str, snapshot: str | None = None) -> Source:
    """The bucket folder of ``<creator>/<dataset>`` at the pinned commit or an MRDS snapshot."""
    if snapshot is None:
        mirror = f"deposits/minmod/ta2-minmod-data/data/mineral-sites/{dataset}"
        url = f"{MINMOD_REPOSITORY}/tree/{MINMOD_COMMIT}/data/mineral-sites/{dataset}"
    else:
        mirror = f"deposits/minmod/ta2-minmod-data-sample/{snapshot}/data/mineral-sites/{dataset}"
        url = f"{MINMOD_SAMPLE_REPOSITORY}/tree/{snapshot}/data/mineral-sites/{dataset}"
    return Source(
        mirror,
        url,
        MINMOD_CONTENT_LIST.sha256,
        content_sha256=MINMOD_CONTENT_LIST.mirror_path,
        protocol="minmod",
    )


def _minmod_layer(
    layer_id: str,
    title: str,
    datasets: tuple[str, ...],
    *,
    publisher: str,
    caveats: str,
    coverage: Coverage,
    license: str = USGS_MINMOD_LICENSE,
    upstream: tuple[str, ...] = (),
    record_url: str | None = None,
    options: dict[str, object] | None = None,
    sources: tuple[Source, ...] = (),
    large_deposit_compilation: bool = False,
) -> Layer:
    return Layer(
        id=layer_id,
        title=title,
        kind=LayerKind.DEPOSITS,
        sources=(*sources, *(_minmod_folder(d) for d in datasets)),
        reader="minmod",
        normalizer="minmod",
        publisher=f"{publisher}; via DARPA CriticalMAAS MinMod (USC ISI)",
        license=license,
        caveats=f"{caveats} {MINMOD_CAVEAT}",
        columns={
            "source_id": "record_id",
            "name": "name",
            "alt_names": "aliases",
            "dev_status": "site_type",
            "commodities": "mineral_inventory[].commodity.observed_name",
            "deposit_type": "deposit_type_candidate (highest confidence)",
            "inventory": "mineral_inventory[] with ore or grade",
            "geometry": "location_info.location in location_info.crs",
        },
        options=options or {},
        coverage=coverage,
        upstream=upstream,
        record_url=record_url,
        large_deposit_compilation=large_deposit_compilation,
    )


def _usgs_compilation(
    layer_id: str,
    dataset: str,
    title: str,
    note: str,
    caveats: str,
    record_url: str | None,
    large_deposit_compilation: bool = False,
) -> Layer:
    """One of the USGS mrdata compilations (mostly global; the US rows are kept)."""
    return _minmod_layer(
        layer_id,
        f"USGS {title} (via MinMod), United States",
        (f"umn/{dataset}",),
        publisher="U.S. Geological Survey (mrdata.usgs.gov)",
        caveats=f"{caveats} Only the records located in the United States are kept.",
        coverage=Coverage("national_compilation", note),
        upstream=(f"https://mrdata.usgs.gov/{dataset.removeprefix('mrdata_').replace('_', '-')}",),
        record_url=record_url,
        options={"mineral_lists": True},
        large_deposit_compilation=large_deposit_compilation,
    )


MRDS_RECORD_URL = "https://mrdata.usgs.gov/mrds/show-mrds.php?dep_id={record_id}"

MINMOD_LAYERS: tuple[Layer, ...] = (
    _minmod_layer(
        "minmod_mrds",
        "USGS MRDS, national (MinMod snapshots, with SRI commodities and ranks)",
        ("sri/mrdata_mrds", "jhammars/mrdata_mrds", "bvu/mrdata_mrds", "ggraham/mrdata_mrds"),
        sources=tuple(
            _minmod_folder("umn/mrdata_mrds", snapshot=commit) for commit, _ in MRDS_SNAPSHOTS
        ),
        publisher="U.S. Geological Survey MRDS",
        caveats=(
            "A SAMPLE: five snapshots of MinMod's MRDS set, each a different subset, together "
            "about 165k of the roughly 300k MRDS records; the January 2025 snapshots state "
            "NAD27 and mostly lack commodities, which SRI's records (same dep_id, no "
            "coordinates) supply; SRI also gives the MRDS rank (A-E) and deposit-type "
            "predictions (machine-made). MRDS has not been systematically updated since 2011 "
            "and holds duplicates (one site, several dep_ids). record_id is the MRDS dep_id."
        ),
        coverage=Coverage(
            "national_sampled", "national, sampled (about 165k of 300k MRDS records)"
        ),
        upstream=("https://mrdata.usgs.gov/mrds/rdbms-tab-all.zip",),
        record_url=MRDS_RECORD_URL,
        options={"dep_id_from_record": True},
    ),
    _minmod_layer(
        "mrds_california",
        "USGS MRDS of California (via MinMod)",
        ("umn/usgs_mrds_california",),
        publisher="U.S. Geological Survey (MRDS for the State of California, doi:10.5066/P9HTERGK)",
        caveats=(
            "The whole state of California. Its record_id is a row number of the USGS "
            "California release, NOT an MRDS dep_id (dep_id stays null; sites are linked to "
            "MRDS records by location and name)."
        ),
        coverage=Coverage("state_survey", "all of California (MRDS)", states=("CA",)),
        upstream=("https://doi.org/10.5066/P9HTERGK",),
    ),
    _minmod_layer(
        "ardf",
        "USGS Alaska Resource Data File (ARDF, via MinMod)",
        ("umn/ardf", "sri/ardf"),
        publisher="U.S. Geological Survey (Alaska Resource Data File, doi:10.5066/P96MMRFD)",
        caveats=(
            "Coordinates in NAD27, reprojected; the Aleutians cross the antimeridian "
            "(longitudes normalized to -180..180). SRI's records add commodities and "
            "deposit-type predictions by ARDF number, without coordinates."
        ),
        coverage=Coverage("state_survey", "all of Alaska (ARDF)", states=("AK",)),
        upstream=("https://doi.org/10.5066/P96MMRFD",),
        record_url="https://mrdata.usgs.gov/ardf/show-ardf.php?ardf_num={record_id}",
        options={"name_separator": ";"},
    ),
    _minmod_layer(
        "umos",
        "Utah Mineral Occurrence System (UMOS, via MinMod)",
        ("umn/utah_mineral_occurrence_system",),
        publisher="Utah Geological Survey (UMOS, Open-File Report 757, doi:10.34191/OFR-757)",
        license=f"terms of the Utah Geological Survey; {MINMOD_LICENSE}",
        caveats=(
            "Coordinates in UTM zone 12N (EPSG:26912), reprojected. Commodities are UMOS "
            "code strings (e.g. 'U V'), mapped by data/minmod_commodity_codes.csv; no "
            "development status."
        ),
        coverage=Coverage("state_survey", "all of Utah (UMOS)", states=("UT",)),
        upstream=("https://doi.org/10.34191/OFR-757",),
        options={"name_separator": ";"},
    ),
    _minmod_layer(
        "dogami",
        "Oregon DOGAMI mineral information layer (MILO, via MinMod)",
        ("umn/oregon_department_geology_mineral_industries",),
        publisher="Oregon Department of Geology and Mineral Industries (DOGAMI)",
        license=f"terms of DOGAMI; {MINMOD_LICENSE}",
        caveats=(
            "Coordinates in Oregon Lambert (EPSG:2994, international feet), reprojected. "
            "Many records are aggregate (sand, gravel, crushed stone) sites. Its commodity "
            "code 'SC' means sand/crushed stone, not scandium (MinMod normalized it to "
            "scandium): codes are mapped by data/minmod_commodity_codes.csv."
        ),
        coverage=Coverage("state_survey", "all of Oregon (DOGAMI)", states=("OR",)),
        upstream=("https://www.oregongeology.org/milo/",),
    ),
    _minmod_layer(
        "idaho_igs",
        "Idaho Geological Survey mines and prospects (via MinMod), truncated",
        ("umn/idaho_geology_survey",),
        publisher="Idaho Geological Survey",
        license=f"terms of the Idaho Geological Survey; {MINMOD_LICENSE}",
        caveats=(
            "TRUNCATED upstream at 2,000 records (southern and central Idaho): elsewhere in "
            "Idaho absence of a record means nothing."
        ),
        coverage=Coverage(
            "partial_state", "part of Idaho (2,000 records, truncated)", states=("ID",)
        ),
        upstream=("https://www.idahogeology.org",),
    ),
    _minmod_layer(
        "earth_mri",
        "USGS critical mineral deposits of the United States (Earth MRI, via MinMod)",
        ("umn/earth_mri_usa", "jhammars/earth_mri_usa"),
        publisher="U.S. Geological Survey (Earth MRI, doi:10.5066/P9K1HBNT)",
        caveats=(
            "Critical-mineral deposits and districts in 40 states; MinMod's state codes are "
            "partly Uruguayan departments (ignored: the state comes from the location)."
        ),
        coverage=Coverage("national_compilation", "national, critical-mineral deposits only"),
        upstream=("https://doi.org/10.5066/P9K1HBNT",),
    ),
    _minmod_layer(
        "usmin_deposits",
        "USGS USMIN mineral deposit database (via MinMod)",
        ("umn/mrdata_deposit",),
        publisher="U.S. Geological Survey (USMIN Mineral Deposit Database)",
        caveats="Critical-mineral deposits compiled by USMIN; 445 records, some unlocated.",
        coverage=Coverage("national_compilation", "national, USMIN critical-mineral deposits"),
        upstream=("https://mrdata.usgs.gov/deposit/",),
    ),
    _minmod_layer(
        "pp1802",
        "USGS Professional Paper 1802 critical-mineral sites (via MinMod)",
        ("umn/mrdata_pp1802", "jhammars/mrdata_pp1802"),
        publisher="U.S. Geological Survey (Professional Paper 1802, 2017)",
        caveats="Selected mines and deposits of 23 critical minerals; US and Puerto Rico kept.",
        coverage=Coverage("national_compilation", "national, selected critical-mineral sites"),
        upstream=("https://mrdata.usgs.gov/pp1802/",),
        record_url="https://mrdata.usgs.gov/pp1802/show-pp1802.php?rec_id={record_id}",
    ),
    _usgs_compilation(
        "usgs_nicrpge",
        "mrdata_nicrpge",
        "PGE-Ni-Cr deposits and occurrences",
        "national, Ni-Cr-PGE deposits and occurrences",
        "A bibliographic database: many records per district.",
        "https://mrdata.usgs.gov/nicrpge/show-nicrpge.php?site_id={record_id}",
    ),
    _usgs_compilation(
        "usgs_major_deposits",
        "mrdata_major_deposits",
        "major mineral deposits of the world",
        "national, major deposits only",
        "Major deposits only (OFR 2005-1294).",
        "https://mrdata.usgs.gov/major-deposits/show-ofr20051294.php?rec_id={record_id}",
        large_deposit_compilation=True,
    ),
    _usgs_compilation(
        "usgs_ree",
        "mrdata_ree",
        "rare earth element deposits",
        "national, rare-earth deposits only",
        "Rare earth mines, deposits and occurrences.",
        "https://mrdata.usgs.gov/ree/show-ree.php?rec_id={record_id}",
    ),
    _usgs_compilation(
        "usgs_porcu",
        "mrdata_porcu",
        "porphyry copper deposits of the world",
        "national, major porphyry copper deposits only",
        "The same 2008 compilation as the porphyry_copper layer (MinMod's copy).",
        "https://mrdata.usgs.gov/porcu/show-porcu.php?rec_id={record_id}",
        large_deposit_compilation=True,
    ),
    _usgs_compilation(
        "usgs_potash",
        "mrdata_potash",
        "evaporite-related potash resources",
        "national, potash deposits only",
        "Commodities are code strings (HAL = halite, BRI = brine, K = potash).",
        "https://mrdata.usgs.gov/potash/show-potash.php?rec_no={record_id}",
    ),
    _usgs_compilation(
        "usgs_phosphate",
        "mrdata_phosphate",
        "phosphate deposits of the world",
        "national, phosphate deposits only",
        "Phosphate mines, deposits and occurrences.",
        "https://mrdata.usgs.gov/phosphate/show-phosphate.php?rec_no={record_id}",
    ),
    _usgs_compilation(
        "usgs_sedcu",
        "mrdata_sedcu",
        "sediment-hosted copper deposits",
        "national, sediment-hosted copper deposits only",
        "Sediment-hosted copper deposits.",
        "https://mrdata.usgs.gov/sedcu/show-sedcu.php?rec_id={record_id}",
    ),
    _usgs_compilation(
        "usgs_sedznpb",
        "mrdata_sedznpb",
        "sediment-hosted zinc-lead deposits",
        "national, sediment-hosted Zn-Pb deposits only",
        "Sediment-hosted zinc-lead deposits.",
        "https://mrdata.usgs.gov/sedznpb/show-sedznpb.php?rec_id={record_id}",
    ),
    _usgs_compilation(
        "usgs_sedexmvt",
        "mrdata_sedexmvt",
        "MVT and clastic-dominated lead-zinc deposits",
        "national, MVT and CD Pb-Zn deposits only",
        "MVT and CD lead-zinc deposits.",
        "https://mrdata.usgs.gov/sedexmvt/show-sedexmvt.php?rec_id={record_id}",
    ),
    _usgs_compilation(
        "usgs_sedau",
        "mrdata_sedau",
        "sediment-hosted (Carlin-type) gold deposits",
        "national, sediment-hosted gold deposits only",
        "Sediment-hosted gold deposits; mineral lists are not commodities (dropped).",
        "https://mrdata.usgs.gov/sedau/show-sedau.php?recno={record_id}",
    ),
    _usgs_compilation(
        "usgs_vms",
        "mrdata_vms",
        "volcanogenic massive sulfide deposits",
        "national, VMS deposits only",
        "VMS deposits with tonnage and grades.",
        "https://mrdata.usgs.gov/vms/show-vms.php?rec_id={record_id}",
    ),
    _usgs_compilation(
        "usgs_podchrome",
        "mrdata_podchrome",
        "podiform chromite deposits",
        "national, podiform chromite deposits only",
        "Podiform chromite deposits.",
        "https://mrdata.usgs.gov/podchrome/show-podchrome.php?rec_id={record_id}",
    ),
    _usgs_compilation(
        "usgs_carbonatite",
        "mrdata_carbonatite",
        "carbonatites of the world",
        "national, carbonatites only",
        "Carbonatites and alkaline complexes.",
        "https://mrdata.usgs.gov/carbonatite/show-carbonatite.php?rec_id={record_id}",
    ),
    _usgs_compilation(
        "usgs_laterite",
        "mrdata_laterite",
        "Ni-Co laterite deposits of the world",
        "national, Ni-Co laterites only",
        "Ni-Co laterite deposits.",
        "https://mrdata.usgs.gov/laterite/show-laterite.php?rec_id={record_id}",
    ),
    _usgs_compilation(
        "usgs_asbestos",
        "mrdata_asbestos",
        "asbestos mines, prospects and occurrences",
        "national, asbestos sites only (eastern and western US)",
        "Commodities are the asbestos and associated minerals; MinMod's state codes are "
        "partly Uruguayan departments (ignored).",
        "https://mrdata.usgs.gov/asbestos/show-asbestos.php?rec_id={record_id}",
    ),
    _usgs_compilation(
        "usgs_copper_assessment",
        "mrdata_sir20105090z",
        "global assessment of undiscovered copper resources (SIR 2010-5090-Z)",
        "national, copper deposits of the global assessment",
        "Many records have no location (dropped).",
        "https://mrdata.usgs.gov/sir20105090z/show-sir20105090z.php?id={record_id}",
    ),
    _minmod_layer(
        "usgs_pp577",
        "USGS mica deposits of the Blue Ridge in North Carolina (PP 577, via MinMod)",
        ("umn/mrdata_pp577",),
        publisher="U.S. Geological Survey (Professional Paper 577)",
        caveats="Mica (and feldspar) deposits of the North Carolina Blue Ridge, 1960s.",
        coverage=Coverage("national_compilation", "mica deposits of the NC Blue Ridge"),
        upstream=("https://mrdata.usgs.gov/pp577/",),
        record_url="https://mrdata.usgs.gov/pp577/show-pp577.php?id={record_id}",
    ),
    _minmod_layer(
        "nc_survey",
        "North Carolina Geological Survey mines and prospects (via MinMod)",
        ("umn/nc_geological_survey",),
        publisher="North Carolina Geological Survey",
        license=f"terms of the NC Geological Survey; {MINMOD_LICENSE}",
        caveats="Many aggregate, mica and feldspar sites.",
        coverage=Coverage("state_survey", "all of North Carolina", states=("NC",)),
        upstream=(
            "https://www.deq.nc.gov/about/divisions/energy-mineral-and-land-resources/"
            "nc-geological-survey",
        ),
    ),
    _minmod_layer(
        "va_survey",
        "Virginia Energy, geology and mineral resources (via MinMod)",
        ("umn/geology_and_mineral_resources",),
        publisher="Virginia Department of Energy, Geology and Mineral Resources",
        license=f"terms of Virginia Energy; {MINMOD_LICENSE}",
        caveats="No site names and no development status; many rock and aggregate sites.",
        coverage=Coverage("state_survey", "all of Virginia", states=("VA",)),
        upstream=("https://www.energy.virginia.gov/geology/geologymineralresources.shtml",),
    ),
    _minmod_layer(
        "al_survey",
        "Geological Survey of Alabama critical-mineral resources (via MinMod)",
        ("umn/geological_survey_of_alabama", "jhammars/geological_survey_of_alabama"),
        publisher="Geological Survey of Alabama",
        license=f"terms of the Geological Survey of Alabama; {MINMOD_LICENSE}",
        caveats="Commodities include oxides and minerals (mapped where they stand for one).",
        coverage=Coverage("state_survey", "all of Alabama", states=("AL",)),
        upstream=("https://www.gsa.state.al.us/gsa/geologic/nonfuelminerals/nfcritresource",),
    ),
    _minmod_layer(
        "mining_reports",
        "NI 43-101 and other mining reports, extracted by InferLink and curators (via MinMod)",
        (
            "inferlink/mining_report",
            "jhammars/mining_report",
            "caknoblock/mining_report",
            "glederer/mining_report",
            "bvu/mining_report",
        ),
        publisher="Report authors (NI 43-101 technical reports); extraction by InferLink",
        license=f"{MINMOD_LICENSE}; report text: terms of its publisher",
        caveats=(
            "Machine-extracted (language model) from technical reports: grade and tonnage "
            "per zone and category, coordinates often COARSE (project or town level) and "
            "some invalid; US rows only. Tonnage without a unit is not converted (null)."
        ),
        coverage=Coverage("national_compilation", "national, reported projects only (coarse)"),
        upstream=("https://api.cdr.land/v1/docs/documents",),
    ),
    _minmod_layer(
        "world_tin_tungsten",
        "World tin and tungsten deposits (Geological Survey of Canada, via MinMod), US rows",
        ("usc/world_tin_tungsten_deposit", "bvu/world_tin_tungsten_deposit"),
        publisher="Geological Survey of Canada (Open File, doi:10.4095/295581)",
        license=f"Open Government Licence - Canada; {MINMOD_LICENSE}",
        caveats="A world compilation of tin and tungsten deposits; US rows only.",
        coverage=Coverage("national_compilation", "national, tin and tungsten deposits only"),
        upstream=("https://doi.org/10.4095/295581",),
    ),
)

LAYERS = (*LAYERS, *MINMOD_LAYERS)


def layer(layer_id: str) -> Layer:
    """Look a layer up by id; an unknown id is a ``NotFoundError`` listing the known ones."""
    for entry in LAYERS:
        if entry.id == layer_id:
            return entry
    raise NotFoundError(f"unknown layer {layer_id!r}; known: {[x.id for x in LAYERS]}")


def layers_of_kind(kind: LayerKind) -> tuple[Layer, ...]:
    return tuple(entry for entry in LAYERS if entry.kind == kind)


def large_deposit_compilations() -> frozenset[str]:
    """Ids of the deposit layers declared ``large_deposit_compilation``."""
    return frozenset(entry.id for entry in LAYERS if entry.large_deposit_compilation)
