"""PNG raster tiles through rio-tiler: read, mask, rescale, colour."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rio_tiler.colormap import cmap
from rio_tiler.errors import TileOutsideBounds
from rio_tiler.io import Reader

from app.collections import RasterStyle

TILE_SIZE = 256


def render_png(path: Path, z: int, x: int, y: int, style: RasterStyle) -> bytes | None:
    """A 256x256 RGBA PNG (alpha 0 off the data); None when the tile shows nothing."""
    try:
        with Reader(str(path)) as src:
            image = src.tile(
                x,
                y,
                z,
                tilesize=TILE_SIZE,
                resampling_method=style.resampling,
                reproject_method=style.resampling,
            )
    except TileOutsideBounds:
        return None
    values = image.array
    hidden = np.ma.getmaskarray(values)
    if style.transparent_below is not None:
        hidden = hidden | (values.data < style.transparent_below)
    if hidden.all():
        return None
    values.mask = hidden
    image.rescale(in_range=((style.vmin, style.vmax),))
    return image.render(img_format="PNG", colormap=cmap.get(style.colormap))
