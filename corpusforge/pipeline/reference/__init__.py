"""Reference corpora for `dedup.reference`: an existing corpus a new source is deduplicated against.

`sources` reads a reference (a corpusforge output folder, parquet/JSONL files, a folder saved by `datasets`, or a
Hub dataset) as (reference id, text) pairs; `index` turns it into exact hashes and MinHash LSH buckets on disk;
`cache` keys that index by the reference's files and the parameters, so it is computed once and reused.
"""
