"""The browser assets of ``/map``: every script and stylesheet, served by fedmin itself.

The map must work offline (air-gapped analysts, CI without internet), so nothing is
loaded from a CDN at view time. The npm packages are pinned in the repo-root
``package.json``/``package-lock.json``; ``python -m app.map.vendor`` runs ``npm ci`` and
copies exactly the files listed here into ``app/static/vendor/`` (git-ignored), and the
page links exactly these files. One list drives both, so a link can never point at a
file the installer did not copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from layers.errors import DataError

APP_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = APP_DIR.parent
#: Where the installer copies the vendored files (git-ignored; packaged as app data).
VENDOR_DIR = APP_DIR / "static" / "vendor"
#: fedmin's own map code (committed).
OWN_STATIC_DIR = Path(__file__).resolve().parent / "static"

#: URL prefixes, relative to the app's root path; served by ``app/routers/map.py``.
VENDOR_URL = "/map/vendor"
OWN_URL = "/map/static"
#: The one asset from outside: the optional web basemap, offered in the layer control and
#: never on by default (the pages' Content-Security-Policy allows its images).
OSM_TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "&copy; OpenStreetMap contributors"


@dataclass(frozen=True)
class VendorFile:
    """One file of an npm package: where it comes from and whether the page links it.

    ``link`` is ``js`` or ``css`` for files the page references in its ``<head>``, and
    ``None`` for files they load themselves (Leaflet's marker images, source maps).
    """

    package: str
    path: str
    link: Literal["js", "css"] | None = None

    @property
    def target(self) -> str:
        """Path under ``VENDOR_DIR`` (and ``VENDOR_URL``): ``<package>/<basename>``."""
        return f"{self.package}/{self.path.removeprefix('dist/')}"


#: Load order matters: Leaflet, then the plugins that extend ``L``.
VENDOR_FILES: tuple[VendorFile, ...] = (
    VendorFile("leaflet", "dist/leaflet.js", "js"),
    VendorFile("leaflet", "dist/leaflet.js.map"),
    VendorFile("leaflet", "dist/leaflet.css", "css"),
    VendorFile("leaflet", "dist/images/layers.png"),
    VendorFile("leaflet", "dist/images/layers-2x.png"),
    VendorFile("leaflet", "dist/images/marker-icon.png"),
    VendorFile("leaflet", "dist/images/marker-icon-2x.png"),
    VendorFile("leaflet", "dist/images/marker-shadow.png"),
    VendorFile("leaflet.vectorgrid", "dist/Leaflet.VectorGrid.bundled.min.js", "js"),
)

#: fedmin's own files under ``OWN_STATIC_DIR``, linked after the vendored ones.
OWN_FILES: tuple[tuple[str, Literal["js", "css"]], ...] = (
    ("fedmin.css", "css"),
    ("fedmin.js", "js"),
)


#: The page's icon (also spares the browser a 404 on ``/favicon.ico``).
FAVICON = "favicon.svg"


def favicon_url(root_path: str = "") -> str:
    return f"{root_path}{OWN_URL}/{FAVICON}"


def linked(kind: Literal["js", "css"], root_path: str = "") -> list[tuple[str, str]]:
    """``(name, url)`` pairs of the files of ``kind`` the page links, in load order.

    The shape is folium's ``default_js``/``default_css``, which these lists replace.
    """
    vendored = [
        (f.target, f"{root_path}{VENDOR_URL}/{f.target}") for f in VENDOR_FILES if f.link == kind
    ]
    own = [(f"fedmin/{name}", f"{root_path}{OWN_URL}/{name}") for name, k in OWN_FILES if k == kind]
    return vendored + own


class AssetsNotInstalledError(DataError):
    """The map's vendored scripts are not installed (a 503: the server is not set up)."""


def missing_vendor_files(vendor_dir: Path | None = None) -> list[str]:
    """Vendored files not installed yet (empty when ``python -m app.map.vendor`` ran)."""
    vendor_dir = vendor_dir or VENDOR_DIR
    return [f.target for f in VENDOR_FILES if not (vendor_dir / f.target).is_file()]


def require_vendor_files(vendor_dir: Path | None = None) -> None:
    """Fail with the fix in the message rather than serve a page whose scripts 404."""
    missing = missing_vendor_files(vendor_dir)
    if missing:
        raise AssetsNotInstalledError(
            f"map assets not installed ({', '.join(missing)}): run `python -m app.map.vendor` "
            "(or `make assets`)"
        )
