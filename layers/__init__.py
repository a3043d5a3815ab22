"""What the data is: the layer catalog, source readers, canonical schemas and the store."""
