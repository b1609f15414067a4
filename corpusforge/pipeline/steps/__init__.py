"""Importing this package registers every built-in step and reader under its stable name."""

from corpusforge.pipeline.readers import books as _read_books  # noqa: F401
from corpusforge.pipeline.readers import jsonl as _read_jsonl  # noqa: F401
from corpusforge.pipeline.readers import kg as _read_kg  # noqa: F401
from corpusforge.pipeline.readers import pubmed as _read_pubmed  # noqa: F401
from corpusforge.pipeline.readers import records as _read_records  # noqa: F401
from corpusforge.pipeline.steps import accounting as _accounting  # noqa: F401
from corpusforge.pipeline.steps import books as _books  # noqa: F401
from corpusforge.pipeline.steps import clean as _clean  # noqa: F401
from corpusforge.pipeline.steps import decontam as _decontam  # noqa: F401
from corpusforge.pipeline.steps import exam as _exam  # noqa: F401
from corpusforge.pipeline.steps import filters as _filters  # noqa: F401
from corpusforge.pipeline.steps import kg as _kg  # noqa: F401
from corpusforge import instruct as _instruct  # noqa: F401,E402
