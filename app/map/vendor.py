"""Install the map's browser assets from the npm registry: ``python -m app.map.vendor``.

Runs ``npm ci`` against the committed ``package-lock.json`` (exact, verified versions;
``--ignore-scripts`` so no package code runs at install) and copies the files listed in
``app.map.assets.VENDOR_FILES`` into ``app/static/vendor/``. Run once at set-up (the
Makefile's ``assets`` target); the server then needs neither npm nor a network.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from app.map.assets import REPO_ROOT, VENDOR_DIR, VENDOR_FILES

NPM_CI = ("npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error")


def npm_ci(project_dir: Path = REPO_ROOT) -> None:
    """``npm ci`` in ``project_dir``; fails with npm's own message when it cannot."""
    if shutil.which("npm") is None:
        raise SystemExit("npm not found: install Node.js (npm) to vendor the map's assets")
    subprocess.run(NPM_CI, cwd=project_dir, check=True)


def copy_assets(node_modules: Path, vendor_dir: Path = VENDOR_DIR) -> list[Path]:
    """Copy every listed file into ``vendor_dir``; a missing one is an error, not a skip."""
    missing = [
        f"{f.package}/{f.path}"
        for f in VENDOR_FILES
        if not (node_modules / f.package / f.path).is_file()
    ]
    if missing:
        raise SystemExit(f"not in {node_modules}: {missing} (did `npm ci` run?)")
    copied = []
    for entry in VENDOR_FILES:
        target = vendor_dir / entry.target
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(node_modules / entry.package / entry.path, target)
        copied.append(target)
    return copied


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--skip-npm", action="store_true", help="copy from an existing node_modules only"
    )
    args = parser.parse_args(argv)
    if not args.skip_npm:
        npm_ci()
    copied = copy_assets(REPO_ROOT / "node_modules")
    print(f"vendored {len(copied)} map asset files into {VENDOR_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
