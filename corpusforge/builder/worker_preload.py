"""What every worker process of a local build needs, imported once in the fork server that starts them.

datatrove's local executor starts each stage's workers from a fork server (safe next to the command's threads,
unlike a plain fork). Without a preload, each worker of each stage imports datatrove, the registered steps and
spaCy again before its first document: ~1.5 CPU-s per worker and stage, paid again by every stage.
`corpusforge.builder.runner` names this module as the fork server's preload (FORK_SERVER_PRELOAD).
"""

import datatrove.executor.local  # noqa: F401
import datatrove.pipeline.dedup  # noqa: F401
import datatrove.pipeline.readers  # noqa: F401
import datatrove.pipeline.writers  # noqa: F401

from corpusforge.pipeline.registry import load_builtin_steps
from corpusforge.pipeline.steps.words import import_spacy

load_builtin_steps()
import_spacy()
