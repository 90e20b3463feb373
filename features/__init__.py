"""Bottom layer: ingestion, data quality, the simulator, feature-set specs, engines and store.

Imports no other usagecast package.
"""
