"""Counting documents per source at fixed points of a pipeline, so the manifest can prove nothing was lost.

Within a source's own pipeline, datatrove's per-step stats say what each step dropped. Once sources are merged
(deduplication runs over all of them), a drop can no longer be attributed from a step's stats alone; a
`SourceCounter` placed before and after a cross-source step counts documents per source
(`<checkpoint>/<source>`), and the difference is that step's drops for each source.

The counter in front of the dataset writer also counts documents and tokens per licence
(`license_records/<id>`, `license_tokens/<id>`), for the card's licence table.
"""

from __future__ import annotations

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from corpusforge.pipeline.licenses import UNKNOWN
from corpusforge.pipeline.text_units import count_tokens

LICENSE_RECORDS = "license_records/"
LICENSE_TOKENS = "license_tokens/"


class SourceCounter(PipelineStep):
    """Pass documents through unchanged, counting them per source under `<checkpoint>/<source>`."""

    type = "🧮 - COUNT"

    def __init__(self, checkpoint: str, licenses: bool = False):
        super().__init__()
        self.checkpoint = checkpoint
        self.licenses = licenses
        self.name = f"count:{checkpoint}"

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        prefix = f"{self.checkpoint}/"
        for doc in data:
            self.stat_update(prefix + doc.metadata.get("source", "?"))
            if self.licenses:
                license = doc.metadata.get("license") or UNKNOWN
                self.stat_update(LICENSE_RECORDS + license)
                self.stat_update(LICENSE_TOKENS + license, value=count_tokens(doc.text))
            yield doc
