"""read.pubmed_xml after a bad article: it goes on at the next one, quarantines what it cannot read with its byte
range, never expands an entity or reads outside the file, and says so when a file holds no article at all."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from corpusforge.pipeline.readers.pubmed import PubMedXMLReader

HEADER = (
    '<?xml version="1.0" encoding="utf-8"?>\n'
    '<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN" '
    '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n<PubmedArticleSet>\n'
)
FOOTER = "</PubmedArticleSet>\n"


def article(
    pmid: int, abstract: str = "Aspirin lowered the risk of stroke in adults.", title: str = "A trial"
) -> str:
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">{pmid}</PMID>'
        f"<Article><Journal><Title>J Test</Title></Journal><ArticleTitle>{title}</ArticleTitle>"
        f"<Abstract><AbstractText>{abstract}</AbstractText></Abstract>"
        f"<AuthorList><Author><LastName>Roe</LastName></Author></AuthorList></Article></MedlineCitation>"
        f'<PubmedData><ArticleIdList><ArticleId IdType="pubmed">{pmid}</ArticleId></ArticleIdList></PubmedData>'
        f"</PubmedArticle>\n"
    )


def read(path: Path, tmp_path: Path) -> tuple[list[str], dict, list[dict]]:
    reader = PubMedXMLReader(path=str(path), source="pubmed", quarantine_dir=tmp_path / "q")
    docs = [d.id.split(":")[1] for d in reader.run()]
    stats = {k: (v["total"] if isinstance(v, dict) else v) for k, v in reader.stats.to_dict()["stats"].items()}
    lines = [line for f in sorted((tmp_path / "q").glob("*.jsonl")) for line in f.read_text().splitlines()]
    return docs, stats, [json.loads(line) for line in lines]


def balanced(docs: list, stats: dict) -> bool:
    return stats.get("records", 0) == len(docs) + stats.get("dropped", 0) + stats.get("quarantined", 0)


def write(tmp_path: Path, body: str, name: str = "f.xml") -> tuple[Path, bytes]:
    path = tmp_path / name
    data = (HEADER + body + FOOTER).encode()
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    return path, data


def test_bad_articles_are_quarantined_with_their_bytes_and_reading_goes_on(tmp_path):
    bad = {
        2: article(2, "Heart&nbsp;failure in adults."),  # an entity XML does not define
        4: article(4, "An <i>unclosed tag in the abstract."),
        6: article(6).replace("</PubmedArticle>", ""),  # no end tag: it ends where the next article starts
    }
    body = "".join(bad.get(i, article(i)) for i in range(1, 9))
    path, data = write(tmp_path, body, "baseline.xml.gz")
    docs, stats, quarantined = read(path, tmp_path)
    assert docs == ["1", "3", "5", "7", "8"]  # nothing after a bad article is lost or merged into it
    assert stats["records"] == 8 and stats["quarantined_bad_xml"] == 3 and balanced(docs, stats)
    assert [q["location"]["pmid"] for q in quarantined] == ["2", "4", "6"]
    assert [q["location"]["element"] for q in quarantined] == [2, 4, 6]
    for record in quarantined:
        start, end = record["location"]["bytes"]
        assert data[start:end].decode() == record["raw"]  # the exact bytes, found where the location says
        assert record["raw"].startswith("<PubmedArticle>") and str(record["location"]["pmid"]) in record["raw"]
    assert "undefined entity" in quarantined[0]["error"] and "bytes" in quarantined[0]["error"]
    assert "no </PubmedArticle> before the next article" in quarantined[2]["error"]


def test_content_between_articles_is_quarantined_not_skipped(tmp_path):
    junk = "<MedlineCitation><PMID>77</PMID><Article>half an article whose start tag was lost</Article>\n"
    path, data = write(tmp_path, article(1) + junk + article(2) + "<!-- a comment is envelope -->\n" + article(3))
    docs, stats, quarantined = read(path, tmp_path)
    assert docs == ["1", "2", "3"] and stats["quarantined_unexpected_content"] == 1 and balanced(docs, stats)
    (record,) = quarantined
    start, end = record["location"]["bytes"]
    assert junk in data[start:end].decode() and record["raw"] == data[start:end].decode()


def test_entities_are_never_expanded_nor_read_from_outside(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CONTENT")
    bomb = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    doctype = (
        f'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [<!ENTITY lol0 "lol">{bomb}'
        f'<!ENTITY ext SYSTEM "file://{secret}">]>\n<PubmedArticleSet>\n'
    )
    body = article(1) + article(2, "Laughs: &lol9;") + article(3, "Outside: &ext;") + article(4)
    path = tmp_path / "bomb.xml"
    path.write_text(doctype + body + FOOTER)
    docs, stats, quarantined = read(path, tmp_path)
    assert docs == ["1", "4"] and stats["quarantined_bad_xml"] == 2 and balanced(docs, stats)
    assert all("undefined entity" in q["error"] for q in quarantined)
    text = (tmp_path / "q").read_text() if (tmp_path / "q").is_file() else "".join(json.dumps(q) for q in quarantined)
    assert "TOP-SECRET" not in text and "lollollol" not in text  # neither read nor expanded


def test_a_file_without_articles_is_a_file_level_quarantine_naming_its_root(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "esearch.xml").write_text(
        '<?xml version="1.0"?>\n<eSearchResult><Count>2</Count><IdList><Id>1</Id></IdList></eSearchResult>\n'
    )
    (tmp_path / "in" / "notes.xml").write_text("these are not XML at all\n")
    (tmp_path / "in" / "good.xml").write_text(HEADER + article(9) + FOOTER)
    docs, stats, quarantined = read(tmp_path / "in", tmp_path)
    assert docs == ["9"] and stats["files_quarantined_no_articles"] == 2 and balanced(docs, stats)
    by_file = {Path(q["location"]["file"]).name: q for q in quarantined}
    assert (
        by_file["esearch.xml"]["scope"] == "file"
        and "root element: <eSearchResult>" in by_file["esearch.xml"]["error"]
    )
    assert "esearch.xml" in by_file["esearch.xml"]["error"] and "<Count>2" in by_file["esearch.xml"]["raw"]
    assert "root element: none (not XML)" in by_file["notes.xml"]["error"]


def test_delete_citations_are_counted_and_book_articles_dropped(tmp_path):
    deletions = '<DeleteCitation><PMID Version="1">111</PMID><PMID Version="1">112</PMID></DeleteCitation>\n'
    book = "<PubmedBookArticle><BookDocument><PMID>5</PMID></BookDocument></PubmedBookArticle>\n"
    path, _ = write(tmp_path, article(1) + book + deletions + article(2))
    docs, stats, quarantined = read(path, tmp_path)
    assert docs == ["1", "2"] and stats["delete_citation_pmids"] == 2 and stats["dropped_book_article"] == 1
    assert not quarantined and balanced(docs, stats)
    only_deletions, _ = write(tmp_path, deletions, "update.xml")  # an update file that only deletes is fine
    docs, stats, quarantined = read(only_deletions, tmp_path / "u")
    assert docs == [] and stats["delete_citation_pmids"] == 2 and not quarantined


def test_truncated_gzip_quarantines_the_cut_article_and_keeps_the_rest(tmp_path):
    path, data = write(tmp_path, "".join(article(i) for i in range(1, 201)), "cut.xml.gz")
    compressed = path.read_bytes()
    path.write_bytes(compressed[: len(compressed) // 2])
    docs, stats, quarantined = read(path, tmp_path)
    assert 50 < len(docs) < 200 and balanced(docs, stats)
    record, file_entry = quarantined  # the cut article, then the file itself (a manifest warning, fails --strict)
    assert file_entry["scope"] == "file" and file_entry["reason"] == "truncated_file" and stats["files_quarantined"]
    assert record["reason"] == "unreadable_file" and record["location"]["pmid"] == str(len(docs) + 1)
    start, end = record["location"]["bytes"]
    assert data[start:end].decode() == record["raw"] and "rest of the file skipped" in record["error"]


def test_articles_split_across_reads_and_large_files(tmp_path):
    from corpusforge.pipeline.readers import pubmed

    body = "".join(article(i, "word " * (i % 50 + 1)) for i in range(1, 3001))
    path, _ = write(tmp_path, body, "big.xml.gz")
    original = pubmed._READ_SIZE
    pubmed._READ_SIZE = 997  # tags and articles cut between reads everywhere
    try:
        docs, stats, quarantined = read(path, tmp_path)
    finally:
        pubmed._READ_SIZE = original
    assert docs == [str(i) for i in range(1, 3001)] and not quarantined and balanced(docs, stats)
