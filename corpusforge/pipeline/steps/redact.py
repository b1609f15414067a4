"""`clean.redact_emails`: e-mail addresses replaced by a placeholder.

PMC articles, book front matter and exam banks carry authors' and patients' contact addresses; a model trained on
them can recite them. The step is a 1:1 transform (it never drops); the count of documents changed is in the
step's stats.
"""

from __future__ import annotations

import re

from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from corpusforge.pipeline.registry import register

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")


@register("clean.redact_emails")
class RedactEmails(PipelineStep):
    """Replace e-mail addresses with a placeholder (never drops)."""

    type = "🧹 - CLEAN"

    def __init__(self, placeholder: str = "[EMAIL]"):
        super().__init__()
        self.placeholder = placeholder

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            with self.track_time():
                redacted, found = EMAIL.subn(self.placeholder, doc.text)
                if found:
                    self.stat_update("redacted", value=found)
                    self.stat_update("changed")
                    doc.text = redacted
            yield doc
