"""How corpusforge lays out what it writes: a Hugging Face dataset directory with a card and a manifest.

    OUTPUT/
      README.md            dataset card: YAML metadata (configs -> parquet files) + stats, written last
      manifest.json        machine-readable counts: per source, input = kept + dropped + quarantined
      data/<split>-*.parquet
      quarantine/<source>/*.jsonl   malformed input, raw and with its location (not part of the dataset)
      .corpusforge/        logs, completion markers and intermediate files that make runs resumable

`datasets.load_dataset(OUTPUT)` reads the card's `configs` and so loads only the parquet shards.
"""
