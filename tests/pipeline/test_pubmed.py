"""read.pubmed_xml and read.pubmed_jsonl: real PubMed layouts, and every bad input quarantined or counted."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import pytest

from corpusforge.pipeline.readers.pubmed import PubMedJSONLReader, PubMedXMLReader

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples" / "pubmed"

HEADER = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">\n<PubmedArticleSet>\n'
)


def article(
    pmid: str | None, title: str | None, abstract: str | None = "An abstract about a trial in adults."
) -> str:
    pmid_xml = f'<PMID Version="1">{pmid}</PMID>' if pmid else ""
    title_xml = f"<ArticleTitle>{title}</ArticleTitle>" if title is not None else ""
    abstract_xml = f"<Abstract><AbstractText>{abstract}</AbstractText></Abstract>" if abstract else ""
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM">{pmid_xml}'
        f'<Article PubModel="Print"><Journal><Title>J Test</Title></Journal>{title_xml}{abstract_xml}'
        f"<Language>eng</Language></Article></MedlineCitation>"
        f'<PubmedData><ArticleIdList><ArticleId IdType="pubmed">{pmid}</ArticleId></ArticleIdList></PubmedData>'
        f"</PubmedArticle>\n"
    )


def run(reader) -> tuple[list, dict]:
    docs = list(reader.run())
    stats = {k: (v["total"] if isinstance(v, dict) else v) for k, v in reader.stats.to_dict()["stats"].items()}
    return docs, stats


def quarantine(folder: Path) -> list[dict]:
    files = sorted(folder.glob("*.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines()]


def balanced(docs: list, stats: dict) -> bool:
    return stats.get("records", 0) == len(docs) + stats.get("dropped", 0) + stats.get("quarantined", 0)


def xml_reader(path: Path, tmp_path: Path, **kwargs) -> PubMedXMLReader:
    return PubMedXMLReader(path=str(path), source="pubmed", quarantine_dir=tmp_path / "q", **kwargs)


def test_bundled_sample_articles_structured_abstracts_and_counts(tmp_path):
    docs, stats = run(xml_reader(SAMPLES / "pubmed_sample.xml.gz", tmp_path))
    assert stats["records"] == 26 and len(docs) == 25
    assert stats["dropped_no_abstract"] == 1 and stats["delete_citation_pmids"] == 2
    assert balanced(docs, stats) and not quarantine(tmp_path / "q")
    first = docs[0]
    assert first.id == "pubmed:38800001"
    title, abstract = first.text.split("\n\n", 1)
    assert title.startswith("Dietary sodium restriction")
    assert abstract.splitlines()[0].startswith("BACKGROUND: Salt intake") and "CONCLUSIONS: " in abstract
    assert first.metadata["provenance"] == {
        "file": str(SAMPLES / "pubmed_sample.xml.gz"),
        "element": 1,
        "pmid": "38800001",
    }
    assert first.metadata["transforms"] == ["read.pubmed_xml"]
    unstructured = next(d for d in docs if d.id == "pubmed:38800002")
    assert ":" not in unstructured.text.split("\n\n", 1)[1][:12]  # no label prefix


def test_inline_markup_is_flattened_and_book_articles_are_dropped(tmp_path):
    path = tmp_path / "markup.xml"
    book = "<PubmedBookArticle><BookDocument><PMID>5</PMID></BookDocument></PubmedBookArticle>\n"
    path.write_text(
        HEADER
        + article("11", "Effect of <i>Helicobacter pylori</i> on CD4<sup>+</sup> cells", "Ratio of H<sub>2</sub>O.")
        + book
        + "</PubmedArticleSet>\n"
    )
    docs, stats = run(xml_reader(path, tmp_path))
    assert docs[0].text == "Effect of Helicobacter pylori on CD4+ cells\n\nRatio of H2O."
    assert stats["dropped_book_article"] == 1 and balanced(docs, stats)


def test_malformed_articles_are_quarantined_with_raw_xml(tmp_path):
    path = tmp_path / "bad.xml"
    path.write_text(
        HEADER + article("21", "Good one") + article(None, "No PMID here") + article("23", None) + article("24", "")
        + "</PubmedArticleSet>\n"
    )  # fmt: skip
    docs, stats = run(xml_reader(path, tmp_path))
    assert [d.id for d in docs] == ["pubmed:21"]
    assert stats["quarantined_missing_field"] == 3 and balanced(docs, stats)
    records = quarantine(tmp_path / "q")
    assert [r["location"]["element"] for r in records] == [2, 3, 4]
    assert "No PMID here" in records[0]["raw"] and records[0]["raw"].startswith("<PubmedArticle")
    assert "no ArticleTitle" in records[1]["error"] and records[1]["location"]["pmid"] == "23"


def test_truncated_gzip_keeps_finished_articles_and_quarantines_the_rest(tmp_path):
    compressed = (SAMPLES / "pubmed_sample.xml.gz").read_bytes()
    path = tmp_path / "truncated.xml.gz"
    path.write_bytes(compressed[: len(compressed) * 2 // 5])
    readable = zlib.decompressobj(wbits=31).decompress(path.read_bytes())  # what any reader can still get
    finished = readable.count(b"</PubmedArticle>")
    assert 3 <= finished < 25
    docs, stats = run(xml_reader(path, tmp_path))
    assert len(docs) + stats.get("dropped", 0) == finished
    assert stats["quarantined"] == 1 and stats["quarantined_unreadable_file"] == 1 and balanced(docs, stats)
    record, file_entry = quarantine(tmp_path / "q")
    assert file_entry["scope"] == "file" and stats["files_quarantined_truncated_file"] == 1
    assert "rest of the file skipped" in record["error"] and record["location"]["element"] == finished + 1
    broken_pmid = record["location"]["pmid"]
    assert broken_pmid and broken_pmid.encode() in readable.split(b"</PubmedArticle>")[-1]
    assert broken_pmid in record["raw"]  # what was read of the broken article is kept


def test_xml_that_breaks_mid_file_is_quarantined_as_bad_xml(tmp_path):
    path = tmp_path / "broken.xml"
    path.write_text(HEADER + article("31", "Fine") + "<PubmedArticle><MedlineCitation><PMID>32</PMID><Art & broken")
    docs, stats = run(xml_reader(path, tmp_path))
    assert [d.id for d in docs] == ["pubmed:31"]
    assert stats["quarantined_bad_xml"] == 1 and balanced(docs, stats)


def test_empty_file_and_oversized_article(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.xml").write_bytes(b"")
    (tmp_path / "in" / "big.xml").write_text(
        HEADER + article("41", "Big", "word " * 400) + article("42", "Small") + "</PubmedArticleSet>"
    )
    docs, stats = run(xml_reader(tmp_path / "in", tmp_path, max_record_bytes=1000))
    assert [d.id for d in docs] == ["pubmed:42"]
    assert stats["quarantined_too_large"] == 1
    assert stats["quarantined"] == 1 and stats["files_quarantined_empty_file"] == 1  # a file, not a record
    assert balanced(docs, stats)


def test_memory_stays_flat_while_streaming(tmp_path):
    """The reader holds one article at a time: the tree's root never accumulates finished articles."""
    path = tmp_path / "many.xml"
    path.write_text(HEADER + "".join(article(str(100 + i), f"Title {i}") for i in range(300)) + "</PubmedArticleSet>")
    reader = xml_reader(path, tmp_path)
    sizes = []
    for record in reader.iter_raw(path.name):
        sizes.append(len(record.raw))
    assert len(sizes) == 300 and max(sizes) < 2 * min(sizes)  # each record is one article, never the accumulated tree


def jsonl_reader(path: Path, tmp_path: Path, **kwargs) -> PubMedJSONLReader:
    return PubMedJSONLReader(path=str(path), source="pubmed_jsonl", quarantine_dir=tmp_path / "q", **kwargs)


def test_jsonl_sample_and_mapped_fields(tmp_path):
    docs, stats = run(jsonl_reader(SAMPLES / "pubmed_sample.jsonl", tmp_path))
    assert len(docs) == 3 and stats["dropped_no_abstract"] == 1 and balanced(docs, stats)
    sections = next(d for d in docs if d.id == "pubmed_jsonl:38700002").text.split("\n\n", 1)[1]
    assert sections.splitlines()[0].startswith("BACKGROUND:")  # a list of sections becomes one paragraph each
    path = tmp_path / "mapped.jsonl"
    path.write_text(json.dumps({"PMID": 7, "ArticleTitle": "T", "AbstractText": "A b c."}) + "\n")
    docs, _ = run(
        jsonl_reader(path, tmp_path, pmid_field="PMID", title_field="ArticleTitle", abstract_field="AbstractText")
    )
    assert docs[0].text == "T\n\nA b c." and docs[0].metadata["provenance"]["pmid"] == "7"


def test_jsonl_bad_lines_are_quarantined_and_counted(tmp_path):
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"pmid": "1", "title": "Good", "abstract": "Fine text."})
    gbk = json.dumps({"pmid": "2", "title": "标题", "abstract": "摘要"}, ensure_ascii=False).encode("gbk")
    path.write_bytes(
        b"\n".join(
            [
                good.encode(),
                b'{"pmid": "3", "title": "cut',  # truncated JSON line
                gbk,
                json.dumps({"pmid": "4", "abstract": "no title"}).encode(),
                b"[1, 2]",
            ]
        )
        + b"\n"
    )
    docs, stats = run(jsonl_reader(path, tmp_path))
    assert [d.id for d in docs] == ["pubmed_jsonl:1"]
    assert stats["quarantined_bad_json"] == 1 and stats["quarantined_bad_encoding"] == 1
    assert stats["quarantined_missing_field"] == 1 and stats["quarantined_bad_record"] == 1
    assert balanced(docs, stats)
    by_line = {r["location"]["line"]: r for r in quarantine(tmp_path / "q")}
    assert by_line[3]["raw_encoding"] == "base64" and base64.b64decode(by_line[3]["raw"]) == gbk
    assert "'title'" in by_line[4]["error"]


@pytest.mark.parametrize("content", [b"", b"\n\n"])
def test_jsonl_empty_file_yields_nothing(tmp_path, content):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    docs, stats = run(jsonl_reader(path, tmp_path))
    assert docs == [] and stats.get("records", 0) == 0
