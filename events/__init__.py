"""Raw events in, a validated event store out: the dataset config, readers, validation and
quarantine (`events.ingest`), the DuckDB event store (`events.store`) and its data-quality
reports (`events.quality`). Features read the store; nothing here knows about feature sets."""
