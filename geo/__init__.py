"""What the data means: pure geoprocessing over GeoDataFrames (no web imports)."""
