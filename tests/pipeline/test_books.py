"""read.books, books.strip_nontext and books.chunk on small inline books (and the bundled samples)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from datatrove.data import Document

from corpusforge.errors import ConfigError
from corpusforge.pipeline.readers.books import BooksReader
from corpusforge.pipeline.registry import BuildContext
from corpusforge.pipeline.steps.books.chunk import BookChunker
from corpusforge.pipeline.steps.books.headings import heading_level
from corpusforge.pipeline.steps.books.strip import StripNonText, strip_nontext
from tests.pipeline.helpers import run_reader

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "books"


def clean(text: str) -> str:
    return strip_nontext(text)[0]


def book(text: str, doc_id: str = "books:b.txt") -> Document:
    return Document(
        text=text,
        id=doc_id,
        metadata={"source": "books", "provenance": {"file": "b.txt"}, "transforms": ["read.books"]},
    )


def chunker(**params) -> BookChunker:
    params = BookChunker.Params(**params)
    return BookChunker.from_params(params, BuildContext(source="books", output_dir=Path("."), work_dir=Path(".")))


# ---------------------------------------------------------------------------------------------------------------
# read.books
# ---------------------------------------------------------------------------------------------------------------
def read_books(folder: Path, tmp_path: Path, **kwargs) -> tuple[list[Document], dict, list[dict]]:
    return run_reader(
        BooksReader(path=str(folder), source="books", quarantine_dir=tmp_path / "q", **kwargs), tmp_path / "q"
    )


def test_reader_one_document_per_book_with_relative_id_and_format(tmp_path):
    docs, stats, quarantine = read_books(SAMPLES, tmp_path)
    ids = sorted(d.id for d in docs)
    assert ids == [
        "books:cardiology/hypertension.md",
        "books:endocrinology/diabetes_basics.txt",
        "books:zh/neikexue_jichu.md",
    ]
    formats = {d.id: d.metadata["format"] for d in docs}
    assert formats["books:cardiology/hypertension.md"] == "markdown"
    assert formats["books:endocrinology/diabetes_basics.txt"] == "text"
    assert all(d.metadata["provenance"]["file"].startswith(str(SAMPLES)) for d in docs)
    assert stats["records"] == 3 and not quarantine


def test_reader_bad_books_are_quarantined_or_dropped_and_counts_add_up(tmp_path):
    folder = tmp_path / "books"
    folder.mkdir()
    (folder / "good.md").write_text("# Title\n\nInsulin lowers blood glucose.\n", encoding="utf-8")
    (folder / "gbk.txt").write_bytes("糖尿病是一种代谢性疾病。".encode("gbk"))
    (folder / "empty.txt").write_bytes(b"")
    (folder / "huge.txt").write_text("word " * 400, encoding="utf-8")
    (folder / "paper.txt").write_bytes(b"%PDF-1.4\x00\x00\x01")  # a PDF renamed .txt: sniffed, not cut
    (folder / "binary.txt").write_bytes(b"MZ\x00\x03\x00\x00\x00")  # no known signature: NUL bytes tell
    (folder / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    docs, stats, quarantine = read_books(folder, tmp_path, max_record_bytes=1000)

    assert [d.id for d in docs] == ["books:good.md"]
    reasons = {Path(q["location"]["file"]).name: q["reason"] for q in quarantine}
    assert reasons == {
        "gbk.txt": "bad_encoding",
        "huge.txt": "too_large",
        "binary.txt": "binary_file",
        "paper.txt": "wrong_content",  # file-level, naming what it is
        "empty.txt": "empty_file",  # a 0-byte file: a file-level quarantine, not a record
    }
    assert "a PDF document" in next(q["error"] for q in quarantine if q["reason"] == "wrong_content")
    gbk = next(q for q in quarantine if q["reason"] == "bad_encoding")
    assert gbk["raw_encoding"] == "base64"  # raw bytes kept losslessly
    assert stats["files_quarantined_empty_file"] == 1
    assert stats["skipped_files"] == 1  # figure.png is not a book and not a record
    assert stats["records"] == len(docs) + stats["quarantined"] + stats.get("dropped", 0) == 4


# ---------------------------------------------------------------------------------------------------------------
# books.strip_nontext: each kind of non-text
# ---------------------------------------------------------------------------------------------------------------
def assert_stripped(text: str, expected: str, **counts: int) -> None:
    """strip_nontext(text) leaves `expected` and counts what it stripped as `counts` says."""
    out, stats = strip_nontext(text)
    assert out == expected
    for name, count in counts.items():
        assert stats[name] == count, name


def test_markdown_ascii_box_and_tab_tables_are_stripped():
    text = (
        "Doses differ by drug.\n\n"
        "| Drug | Dose |\n|------|------|\n| Metformin | 500 mg |\n\n"
        "Renal function matters.\n\n"
        "+-------+------+\n| Drug  | Dose |\n+-------+------+\n| A     | 1 mg |\n+-------+------+\n\n"
        "┌──────┬─────┐\n│ Drug │ Dose│\n└──────┴─────┘\n\n"
        "Drug\tDose\tRoute\nMetformin\t500 mg\toral\n\n"
        "Drug        Dose        Route\nInsulin     10 IU       subcutaneous\n\n"
        "Start low and go slow.\n"
    )
    expected = "Doses differ by drug.\n\nRenal function matters.\n\nStart low and go slow."
    assert_stripped(text, expected, stripped_tables=5)


def test_figure_and_table_captions_are_stripped_but_prose_mentioning_them_stays():
    text = (
        "Insulin acts quickly.\n\n"
        "Figure 3.2 Insulin secretion after a meal\nin healthy adults.\n\n"
        "Fig. 4: Structure of the islet.\n\n"
        "Table 1. Common insulin preparations\n\n"
        "图 3-2 胰岛素分泌曲线\n\n"
        "表1 常用降糖药物\n\n"
        "Table 2 shows that rapid analogues act within minutes.\n"
    )
    expected = "Insulin acts quickly.\n\nTable 2 shows that rapid analogues act within minutes."
    assert_stripped(text, expected, stripped_captions=5)


def test_reference_list_appendix_index_and_contents_are_stripped():
    text = (
        "# Book\n\n## Contents\n\nChapter 1 Basics ........ 1\nChapter 2 Drugs ........ 9\n\n"
        "## Chapter 1 Basics\n\nThe kidney filters blood.\n\n"
        "### References\n\n1. Smith JA. Renal physiology. Kidney J. 2019;3:1-9.\n2. Doe B. Filtration. 2020.\n\n"
        "## Chapter 2 Drugs\n\nDrugs are cleared by the kidney.\n\n"
        "[1] Lee M, et al. Clearance. J Pharm. 2018;12:4-9.\n[2] Kim S. Dosing in renal failure. 2021.\n\n"
        "## Appendix A: Laboratory values\n\nCreatinine 60-110 umol/L.\n\n### A.1 Units\n\nSI units are used.\n\n"
        "## Index\n\nkidney, 1, 4\nclearance, 9\nfiltration, 2-3\n"
    )
    out, stats = strip_nontext(text)
    assert out == (
        "# Book\n\n## Chapter 1 Basics\n\nThe kidney filters blood.\n\n"
        "## Chapter 2 Drugs\n\nDrugs are cleared by the kidney."
    )
    assert stats["stripped_references"] == 2  # one under a heading, one unheaded list
    assert stats["stripped_appendices"] == 1 and stats["stripped_indexes"] == 1 and stats["stripped_toc"] == 1


def test_plain_text_index_without_heading_is_stripped():
    out, stats = strip_nontext("Some prose here.\n\nbeta cells, 47, 48\nhypoglycaemia, 48-49\ninsulin, 47, 52\n")
    assert out == "Some prose here." and stats["stripped_indexes"] == 1


def test_running_headers_footers_and_page_numbers_are_stripped_across_form_feeds():
    pages = [
        "MANUAL OF MEDICINE\nChapter 5 Kidney Disease\n\nThe kidney filters blood and keeps the\n\n- 101 -\n",
        "MANUAL OF MEDICINE\nChapter 5 Kidney Disease\nbody in balance. Damage is often silent.\n\n- 102 -\n",
        "MANUAL OF MEDICINE\nChapter 5 Kidney Disease\nCreatinine rises late.\n\n- 103 -\n",
    ]
    out, stats = strip_nontext("\f".join(pages))
    # the first copy of the chapter title is the heading; the paragraph split by the page break is re-joined
    assert out == (
        "Chapter 5 Kidney Disease\n\n"
        "The kidney filters blood and keeps the body in balance. Damage is often silent.\n\n"
        "Creatinine rises late."
    )
    assert stats["stripped_page_numbers"] == 3
    assert stats["stripped_running_lines"] == 5


def test_each_chapter_title_is_kept_once_and_a_chapter_page_starts_a_new_block():
    pages = [
        "Chapter 5 Kidney Disease\nThe kidney filters blood.\n",
        "Chapter 5 Kidney Disease\nkidney, 4, 9\nnephron, 5\nurea, 7\n",  # an index-like end of page, no full stop
        "Chapter 6 Kidney Disease\nDialysis replaces filtration.\n",  # same running key, another chapter
        "Chapter 6 Kidney Disease\nTransplants restore function.\n",
    ]
    out = clean("\f".join(pages))
    assert out.split("\n\n") == [
        "Chapter 5 Kidney Disease",
        "The kidney filters blood.",
        "Chapter 6 Kidney Disease",
        "Dialysis replaces filtration.",
        "Transplants restore function.",  # a page that ends a sentence ends the paragraph
    ]


def test_page_marker_lines_split_pages_and_markdown_headings_are_never_running_headers():
    text = "\n".join(
        [
            "## Drugs",
            "Handbook of Drugs",
            "Aspirin inhibits platelets.",
            "--- page 2 ---",
            "Handbook of Drugs",
            "Heparin is an anticoagulant.",
            "=== Page 3 ===",
            "Handbook of Drugs",
            "## Drugs",
            "Warfarin needs INR checks.",
            "Page 3",
        ]
    )
    out = clean(text)
    assert "Handbook of Drugs" not in out and "Page 3" not in out and "page 2" not in out
    assert out.count("## Drugs") == 2
    assert "Aspirin inhibits platelets." in out and "Warfarin needs INR checks." in out


def test_hyphenation_is_repaired_and_real_hyphens_are_kept():
    text = (
        "In the treat-\nment of angina a beta-\nblocker is used, and the beta-blocker dose is titrated. Hypo-\n"
        "glycaemia is rare. Anti-\nTNF agents and self-\nmonitoring help. The Na-\nK pump works. Digoxin is a "
        "cardiac glyco-\nside.\n"
    )
    out, stats = strip_nontext(text)
    assert "treatment" in out
    assert "beta-blocker is used" in out  # the book writes it with a hyphen elsewhere
    assert "Hypoglycaemia" in out
    assert "Anti-TNF" in out  # capital after the break
    assert "self-monitoring" in out  # a prefix that keeps its hyphen
    assert "Na-K" in out
    assert "glycoside" in out
    assert stats["hyphenation_repaired"] == 3 and stats["hyphens_kept"] == 4


def test_structure_is_kept_and_wrapped_lines_become_paragraphs():
    text = (
        "Chapter 3 Diabetes Mellitus\n\n3.2 Insulin\n\nInsulin is a hormone that lowers\nblood glucose. Doses of\n"
        "3.2 mg are not used for it.\n\n- first item that wraps\n  onto a second line\n- second item\n\n"
        "第三章 糖尿病\n\n糖尿病是一种常见的\n代谢性疾病。\n"
    )
    out = clean(text)
    paragraphs = out.split("\n\n")
    assert paragraphs[0] == "Chapter 3 Diabetes Mellitus" and heading_level(paragraphs[0]) == 1
    assert paragraphs[1] == "3.2 Insulin" and heading_level(paragraphs[1]) == 2
    assert paragraphs[2] == "Insulin is a hormone that lowers blood glucose. Doses of 3.2 mg are not used for it."
    assert paragraphs[3] == "- first item that wraps onto a second line\n- second item"
    assert paragraphs[4] == "第三章 糖尿病" and paragraphs[5] == "糖尿病是一种常见的代谢性疾病。"


def test_strip_step_counts_and_drops_a_book_with_no_prose_left():
    step = StripNonText()
    docs = [
        book("# Tables only\n\n| a | b |\n|---|---|\n| 1 | 2 |\n", "books:t.md"),
        book("Prose survives.\n\nFigure 1. A caption.\n", "books:p.md"),
    ]
    out = list(step.run(iter(docs)))
    stats = {k: v.total for k, v in step.stats.stats.items()}
    assert [d.id for d in out] == ["books:p.md"]
    assert out[0].text == "Prose survives."
    assert out[0].metadata["transforms"] == ["read.books", "books.strip_nontext"]
    assert stats["dropped_empty_after_strip"] == 1 and stats["forwarded"] == 1 and stats["total"] == 2
    assert stats["stripped_tables"] == 1 and stats["stripped_captions"] == 1 and stats["chars_removed"] > 0


def test_bundled_samples_keep_their_prose_and_lose_their_furniture():
    for path in SAMPLES.rglob("*"):
        if not path.is_file():
            continue
        out, stats = strip_nontext(path.read_text(encoding="utf-8"))
        assert stats["stripped_tables"] >= 1 and stats["stripped_captions"] >= 1 and stats["stripped_references"] == 1
        for junk in ("|", "Smith JA", "王明", "Figure", "图 3-2", "Patel R", "mmHg to kPa", "beta cells, 47"):
            assert junk not in out, (path.name, junk)
    text = clean((SAMPLES / "endocrinology" / "diabetes_basics.txt").read_text(encoding="utf-8"))
    assert "CLINICAL ENDOCRINOLOGY ESSENTIALS" not in text and text.count("Chapter 3 Diabetes Mellitus") == 1
    assert "adverse effect of the treatment and must be recognised early" in text  # joined across a page break


# ---------------------------------------------------------------------------------------------------------------
# books.chunk
# ---------------------------------------------------------------------------------------------------------------
def sentence_text(n: int, words: int = 12) -> str:
    return " ".join(f"Sentence {n} talks about insulin dose number {i}" for i in range(words // 8 + 1)) + "."


def long_book() -> str:
    parts = ["# Handbook"]
    n = 0
    for chapter in (1, 2):
        parts.append(f"## Chapter {chapter} Topic {chapter}")
        for section in (1, 2):
            parts.append(f"### {chapter}.{section} Part {section}")
            for _ in range(4):
                parts.append(" ".join(sentence_text(n := n + 1) for _ in range(3)))
    return "\n\n".join(parts)


def run_chunker(step: BookChunker, docs: list[Document]) -> tuple[list[Document], dict]:
    out = list(step.run(iter(docs)))
    return out, {k: v.total for k, v in step.stats.stats.items()}


def test_chunks_respect_budget_sentences_chapters_sections_and_offsets():
    text = long_book()
    step = chunker(target_chars=400, max_chars=800, min_chars=60)
    chunks, stats = run_chunker(step, [book(text)])
    assert len(chunks) > 4
    for i, c in enumerate(chunks):
        assert c.id == f"books:b.txt#{i}"
        offset = c.metadata["provenance"]["offset"]
        assert text[offset : offset + len(c.text)] == c.text  # a slice of the cleaned book
        assert len(c.text) <= 800
        assert c.text.rstrip().endswith(".")  # never cut inside a sentence
        chapters = re.findall(r"## Chapter \d", c.text)
        assert len(chapters) <= 1 and (not chapters or c.text.startswith("## Chapter"))  # never across a chapter
        assert c.metadata["section"].startswith("Handbook > Chapter")
        assert c.metadata["transforms"] == ["read.books", "books.chunk"]
    starts = [c for c in chunks if "### " in c.text]
    assert len(starts) == 4  # the current chunk has >= min_chars at each section, so each section starts a chunk
    for c in starts:
        before, _, rest = c.text.partition("### ")
        assert all(heading_level(p) for p in before.split("\n\n") if p)  # only headings before the section's
        assert c.metadata["section"].endswith(rest.split("\n", 1)[0])
    assert chunks[0].metadata["section"] == "Handbook > Chapter 1 Topic 1 > 1.1 Part 1"
    assert stats["documents_in"] == 1 == stats["expanded"] and stats["documents_out"] == len(chunks)


def test_an_over_long_sentence_is_split_on_whitespace():
    text = "Short intro sentence.\n\n" + " ".join(f"word{i}" for i in range(300)) + "."
    chunks, stats = run_chunker(chunker(target_chars=200, max_chars=300, min_chars=50), [book(text)])
    assert all(len(c.text) <= 300 for c in chunks)
    assert stats["long_sentences_split"] == 1
    joined = " ".join(c.text for c in chunks)
    assert joined.split() == text.split()  # nothing lost, no word cut


def test_chinese_chunking_on_sentence_ends():
    text = "## 第三章 糖尿病\n\n" + "".join(f"糖尿病患者第{i}次复诊时需要检查血糖。" for i in range(30))
    chunks, _ = run_chunker(chunker(language="zh", target_chars=100, max_chars=200, min_chars=20), [book(text)])
    assert len(chunks) > 3
    assert all(c.text.endswith("。") and len(c.text) <= 100 for c in chunks)
    assert all(c.metadata["section"] == "第三章 糖尿病" for c in chunks)


def test_auto_language_splits_chinese_and_english_books_in_one_source():
    zh = "".join(f"患者第{i}次复诊时需要检查血糖。" for i in range(20))
    en = " ".join(f"Patient visit {i} needs a glucose check." for i in range(20))
    chunks, _ = run_chunker(
        chunker(target_chars=120, max_chars=240, min_chars=20), [book(zh, "b:zh"), book(en, "b:en")]
    )
    zh_chunks = [c.text for c in chunks if c.id.startswith("b:zh")]
    en_chunks = [c.text for c in chunks if c.id.startswith("b:en")]
    assert len(zh_chunks) > 2 and all(t.endswith("。") for t in zh_chunks)  # sentence ends, not hard cuts
    assert len(en_chunks) > 2 and all(t.endswith("check.") for t in en_chunks)


def test_a_book_with_nothing_but_headings_is_dropped_with_a_reason():
    chunks, stats = run_chunker(
        chunker(), [book("# Title\n\n## Chapter 1 Empty"), book("Real text here.", "books:x")]
    )
    assert [c.id for c in chunks] == ["books:x#0"]
    assert stats["documents_in"] == 2 == stats["expanded"] + stats["dropped"]
    assert stats["dropped_no_chunks"] == 1


def test_a_missing_trained_pipeline_is_a_clear_error():
    with pytest.raises(ConfigError, match="en_core_web_sm_not_here.*not installed"):
        chunker(spacy_model="en_core_web_sm_not_here")
    with pytest.raises(ConfigError, match="language"):
        chunker(language="xx-not-a-language")
    with pytest.raises(ValueError, match="min_chars <= target_chars <= max_chars"):
        BookChunker.Params(target_chars=5000, max_chars=4000)


def test_a_saved_trained_pipeline_is_used_for_sentence_boundaries(tmp_path):
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer", config={"punct_chars": [";"]})  # a pipeline that ends sentences at ';' only
    nlp.to_disk(tmp_path / "semicolon_pipeline")
    text = "alpha beta gamma; delta epsilon. zeta eta; theta iota kappa; lambda mu"
    step = chunker(spacy_model=str(tmp_path / "semicolon_pipeline"), target_chars=20, max_chars=40, min_chars=5)
    chunks, _ = run_chunker(step, [book(text)])
    assert [c.text for c in chunks] == [
        "alpha beta gamma;",
        "delta epsilon. zeta eta;",
        "theta iota kappa;",
        "lambda mu",
    ]


def test_books_pipeline_through_datatrove_executor(tmp_path):
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.writers import JsonlWriter

    ctx = BuildContext(source="books", output_dir=tmp_path / "out", work_dir=tmp_path / "work")
    pipeline = [
        BooksReader.from_params(BooksReader.Params(path=str(SAMPLES)), ctx),
        StripNonText(),
        chunker(target_chars=300, max_chars=600, min_chars=80),
        JsonlWriter(str(tmp_path / "docs"), output_filename="${rank}.jsonl", compression=None),
    ]
    LocalPipelineExecutor(pipeline, tasks=1, workers=1, logging_dir=str(tmp_path / "logs")).run()
    stats = json.loads((tmp_path / "logs" / "stats.json").read_text())
    by_name = {s["name"].split(": ", 1)[1]: s["stats"] for s in stats}

    def total(step: str, key: str) -> int:
        value = by_name[step].get(key, 0)
        return value["total"] if isinstance(value, dict) else value

    assert total("read.books", "records") == 3
    assert total("books.strip_nontext", "forwarded") == 3
    assert total("books.chunk", "documents_in") == total("books.chunk", "expanded") == 3
    records = [json.loads(line) for line in (tmp_path / "docs" / "00000.jsonl").open()]
    assert len(records) == total("books.chunk", "documents_out") > 3
    assert {r["metadata"]["format"] for r in records} == {"markdown", "text"}
    assert all("|" not in r["text"] for r in records)
    zh = [r["text"] for r in records if r["id"].startswith("books:zh/")]
    assert zh and all(t.endswith("。") for t in zh)  # language: auto chunked the Chinese book on 。
