"""Fuzz targets, one module per area; each module registers with ``fuzz.harness.target``."""
