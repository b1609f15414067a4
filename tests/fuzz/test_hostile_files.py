"""Hostile and odd input files: each ends kept, normalized (counted) or quarantined, never an exception out of a
task, never a read outside the input folder, and counted as a person would count it (issue 25, items 2, 4-6, 8)."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from corpusforge.cli import app
from tests.builder.conftest import write_recipe
from tests.fuzz.specs import registered_reader

TEXT = "Patient {i} with type 2 diabetes was treated with metformin and followed for {i} weeks without events."


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "input"
    path.mkdir()
    return path


def jsonl(n: int, start: int = 0) -> bytes:
    return b"".join(json.dumps({"id": f"d{i}", "text": TEXT.format(i=i)}).encode() + b"\n" for i in range(start, n))


def build(tmp_path: Path, reader: dict, *args: str):
    recipe = {
        "name": "hostile",
        "output": {"path": str(tmp_path / "out")},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
        "sources": {"web": {"reader": reader}},
    }
    result = CliRunner().invoke(app, ["build", str(write_recipe(tmp_path / "recipe.yaml", recipe)), *args])
    out = tmp_path / "out"
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").exists() else None
    return result, manifest, out


def quarantine(out: Path, source: str = "web") -> list[dict]:
    return [json.loads(line) for f in sorted((out / "quarantine" / source).glob("*.jsonl")) for line in f.open()]


def texts(out: Path) -> list[str]:
    return [t for f in sorted((out / "data").rglob("*.parquet")) for t in pq.read_table(f)["text"].to_pylist()]


class TestOddFileNames:
    def test_a_file_name_that_is_not_utf8_builds_and_is_named_with_escapes(self, folder, tmp_path):
        name = os.fsdecode(b"M\xfcller.jsonl")  # latin-1, as old Windows zips carry it
        (folder / name).write_bytes(jsonl(3))
        result, manifest, out = build(tmp_path, {"type": "read.jsonl", "path": str(folder)})
        assert result.exit_code == 0, result.output
        assert manifest["sources"]["web"]["kept"] == 3 and manifest["rows_written"] == 3
        provenance = [
            p["file"] for f in (out / "data").rglob("*.parquet") for p in pq.read_table(f)["provenance"].to_pylist()
        ]
        assert provenance and all(p.endswith("M\\xfcller.jsonl") for p in provenance), provenance


class TestJSONValues:
    def test_huge_integer_nan_and_duplicate_keys_in_json_lines(self, folder, tmp_path):
        lines = [
            json.dumps({"id": "big", "text": "t"}).replace('"t"}', '"t", "n": ' + "9" * 5000 + "}"),
            '{"id": "nan", "text": "kept, score missing", "score": NaN}',
            '{"id": "dup", "text": "one", "text": "two"}',
            '{"id": "same", "text": "same value twice", "text": "same value twice"}',
            '{"id": "nantext", "text": NaN}',
        ]
        (folder / "odd.jsonl").write_text("\n".join(lines) + "\n")
        out = registered_reader("read.jsonl", max_record_bytes=2**20)(folder, tmp_path)
        assert (out.records, out.kept, out.quarantined) == (5, 2, 3), out.reasons
        assert {"bad_json": 1, "duplicate_key": 1, "missing_field": 1}.items() <= out.reasons.items()
        big = next(e for e in out.quarantine if e["reason"] == "bad_json")
        assert "4300" in big["error"] and big["location"]["line"] == 1
        assert sorted(out.ids) == ["fuzz:nan", "fuzz:same"]

    def test_an_over_deep_or_huge_element_quarantines_that_element_only(self, folder, tmp_path):
        good = [json.dumps({"id": f"q{i}", "question": f"Q{i}?", "answer": f"A{i}."}) for i in range(4)]
        deep = "[" * 50_000 + "]" * 50_000
        huge = "9" * 5000
        (folder / "qa.json").write_text("[" + ",".join([good[0], deep, good[1], huge, good[2], good[3]]) + "]")
        out = registered_reader("read.qa", max_record_bytes=2**20)(folder, tmp_path)
        assert (out.records, out.kept, out.quarantined, out.files_quarantined) == (6, 4, 2, 0), out.reasons
        elements = sorted(e["location"]["element"] for e in out.quarantine)
        assert elements == [1, 3] and any("nested too deeply" in e["error"] for e in out.quarantine)


class TestDamagedCompressed:
    def test_8_damaged_bytes_in_a_gzip_quarantine_the_file_and_fail_strict(self, folder, tmp_path):
        data = bytearray(gzip.compress(jsonl(1000)))
        middle = len(data) // 2
        data[middle : middle + 8] = b"\x00" * 8
        (folder / "damaged.jsonl.gz").write_bytes(bytes(data))
        (folder / "fine.jsonl").write_bytes(jsonl(1010, 1000))
        reader = {"type": "read.jsonl", "path": str(folder)}
        result, manifest, out = build(tmp_path, reader)
        web = manifest["sources"]["web"]
        assert result.exit_code == 0 and web["kept"] == 10 and web["input"] == 10, web
        assert web["files_quarantined_by_reason"] == {"damaged_compressed_file": 1}
        assert all(t.startswith("Patient 10") for t in texts(out))  # nothing garbled from the damaged file
        (entry,) = quarantine(out)
        assert entry["location"]["file"].endswith("damaged.jsonl.gz") and entry["raw"]
        assert entry["location"]["size"] == len(data)
        card = (out / "README.md").read_text()
        assert "damaged_compressed_file" in card and "could not be read" in card
        assert "damaged.jsonl.gz (damaged_compressed_file)" in card  # the card names the damaged file
        strict, manifest, _ = build(tmp_path, reader, "--strict", "--overwrite")
        assert strict.exit_code != 0 and manifest["status"] == "failed_strict"

    def test_a_truncated_xml_gz_is_a_manifest_warning(self, folder, tmp_path):
        articles = "".join(
            f"<PubmedArticle><MedlineCitation><PMID>{i}</PMID><Article><ArticleTitle>T{i}</ArticleTitle><Abstract>"
            f"<AbstractText>{TEXT.format(i=i)}</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>"
            for i in range(1, 201)
        )
        data = gzip.compress(f"<PubmedArticleSet>{articles}</PubmedArticleSet>".encode())
        (folder / "cut.xml.gz").write_bytes(data[: len(data) // 2])
        result, manifest, _ = build(tmp_path, {"type": "read.pubmed_xml", "path": str(folder)})
        web = manifest["sources"]["web"]
        assert result.exit_code == 0 and 0 < web["kept"] < 200 and web["balanced"], web
        assert web["files_quarantined_by_reason"] == {"truncated_file": 1}
        assert any("truncated_file" in w for w in manifest["warnings"])

    def test_a_non_gzip_xml_gz_keeps_its_raw_head_and_true_size(self, folder, tmp_path):
        raw = b"<PubmedArticleSet>not compressed at all</PubmedArticleSet>\n" * 100
        (folder / "plain.xml.gz").write_bytes(raw)
        out = registered_reader("read.pubmed_xml")(folder, tmp_path)
        (entry,) = out.quarantine
        assert entry["scope"] == "file" and entry["reason"] == "wrong_content" and "not gzip" in entry["error"]
        assert entry["location"]["size"] == len(raw) and entry["raw"].startswith("<PubmedArticleSet>not compressed")


class TestInputsStayInside:
    def test_a_symlink_leaving_the_books_folder_is_not_read(self, folder, tmp_path):
        secret = tmp_path / "secret.txt"
        secret.write_text("root:x:0:0:SECRET-PASSWORD-LINE\n" * 20)
        (folder / "book.txt").write_text("# A book\n\n" + TEXT.format(i=1) + "\n")
        (folder / "passwd.txt").symlink_to(secret)
        (folder / "inside.txt").symlink_to(folder / "book.txt")  # a link within the folder is read
        result, manifest, out = build(tmp_path, {"type": "read.books", "path": str(folder)})
        web = manifest["sources"]["web"]
        assert (
            result.exit_code == 0 and web["kept"] == 2 and web["files_quarantined_by_reason"] == {"outside_input": 1}
        ), web
        assert not any("SECRET" in t for t in texts(out))
        (entry,) = quarantine(out)
        assert "SECRET" not in json.dumps(entry) and entry["raw"] == "" and "follow_symlinks" in entry["error"]
        assert "SECRET" not in (out / "README.md").read_text()

    def test_follow_symlinks_reads_links_that_leave_the_folder(self, folder, tmp_path):
        outside = tmp_path / "elsewhere.jsonl"
        outside.write_bytes(jsonl(2))
        (folder / "linked.jsonl").symlink_to(outside)
        kept = registered_reader("read.jsonl", follow_symlinks=True)(folder, tmp_path / "a")
        refused = registered_reader("read.jsonl")(folder, tmp_path / "b")
        assert (kept.kept, kept.files_quarantined) == (2, 0)
        assert (refused.kept, refused.reasons) == (0, {"outside_input": 1})

    def test_a_link_named_as_the_recipe_path_is_read(self, tmp_path):
        outside = tmp_path / "elsewhere.jsonl"
        outside.write_bytes(jsonl(2))
        (tmp_path / "in").mkdir()
        (tmp_path / "in" / "named.jsonl").symlink_to(outside)
        out = registered_reader("read.jsonl")(tmp_path / "in" / "named.jsonl", tmp_path)
        assert (out.kept, out.files_quarantined) == (2, 0)


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


class TestContentMatchesReader:
    @pytest.mark.parametrize(
        ("name", "reader", "data", "what"),
        [
            ("exam.csv", "read.qa", _xlsx(), "an Excel workbook (.xlsx)"),
            ("docs.jsonl", "read.jsonl", _xlsx(), "an Excel workbook (.xlsx)"),
            ("book.txt", "read.books", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a PDF document"),
            ("docs.jsonl", "read.jsonl", gzip.compress(jsonl(3)), "gzip-compressed data"),
            ("qa.json", "read.qa", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "legacy Microsoft Office"),
        ],
    )
    def test_a_file_of_another_format_is_a_file_quarantine_naming_it(
        self, folder, tmp_path, name, reader, data, what
    ):
        (folder / name).write_bytes(data)
        (folder / f"zz_good{Path(name).suffix}").write_bytes(
            b"id,question,answer\n1,Q?,A.\n" if name.endswith(".csv") else jsonl(1) if "jsonl" in name else b""
        )
        out = registered_reader(reader)(folder, tmp_path)
        entries = [e for e in out.quarantine if e["location"]["file"].endswith(name)]
        assert len(entries) == 1 and entries[0]["scope"] == "file" and entries[0]["reason"] == "wrong_content"
        assert what in entries[0]["error"] and entries[0]["raw"]

    def test_a_spreadsheet_as_csv_through_the_cli_is_not_zero_ok(self, folder, tmp_path):
        (folder / "sheet.csv").write_bytes(_xlsx())
        result, manifest, _ = build(tmp_path, {"type": "read.qa", "path": str(folder)})
        assert result.exit_code == 0 and manifest["totals"]["files_quarantined"] == 1
        assert any("wrong_content" in w for w in manifest["warnings"])


class TestCountsAPersonWouldGive:
    def test_cr_only_line_endings_are_line_breaks(self, folder, tmp_path):
        (folder / "mac.jsonl").write_bytes(jsonl(5).replace(b"\n", b"\r"))
        out = registered_reader("read.jsonl")(folder, tmp_path)
        assert (out.records, out.kept) == (5, 5)

    def test_cr_only_csv_and_a_quoted_two_line_cmexam_cell_count_as_rows(self, folder, tmp_path):
        rows = [["Question", "Options", "Answer", "Explanation"],
                ["治疗2型糖尿病的一线药物是\n（两行）", "A 格列本脲\nB 二甲双胍\nC 胰岛素", "B", "二甲双胍。"],
                ["第二题", "A 甲\nB 乙", "A", "解释"]]  # fmt: skip
        for ending, name in (("\r\n", "crlf.csv"), ("\r", "cr.csv"), ("\n", "lf.csv")):
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator=ending, quoting=csv.QUOTE_ALL).writerows(rows)
            (folder / name).write_text(buffer.getvalue(), encoding="utf-8")
        out = registered_reader("read.exam", format="cmexam")(folder, tmp_path)
        assert (out.records, out.kept, out.quarantined) == (6, 6, 0), out.reasons

    def test_xml_comments_between_pubmed_articles_are_no_records(self, folder, tmp_path):
        def article(i: int) -> str:
            return (f"<PubmedArticle><MedlineCitation><PMID>{i}</PMID><Article><ArticleTitle>T{i}</ArticleTitle>"
                    f"<Abstract><AbstractText>{TEXT.format(i=i)}</AbstractText></Abstract></Article>"
                    "</MedlineCitation></PubmedArticle>")  # fmt: skip

        body = (f"<?xml version='1.0'?>\n<PubmedArticleSet>\n<!-- batch 1 -->\n{article(1)}\n"
                f"<!-- removed: <PubmedArticle><PMID>99</PMID></PubmedArticle> -->\n{article(2)}\n"
                f"<!-- multi\nline -->{article(3)}\n</PubmedArticleSet>\n")  # fmt: skip
        (folder / "p.xml").write_text(body)
        out = registered_reader("read.pubmed_xml")(folder, tmp_path)
        assert (out.records, out.kept, out.quarantined) == (3, 3, 0), out.reasons

    def test_an_oversized_article_counts_once(self, folder, tmp_path):
        def article(i: int, text: str) -> str:
            return (f"<PubmedArticle><MedlineCitation><PMID>{i}</PMID><Article><ArticleTitle>T{i}</ArticleTitle>"
                    f"<Abstract><AbstractText>{text}</AbstractText></Abstract></Article>"
                    "</MedlineCitation></PubmedArticle>")  # fmt: skip

        huge = article(2, "word " * 600_000)  # 3 MB: longer than one read of the scanner
        (folder / "p.xml").write_text(
            f"<PubmedArticleSet>{article(1, 'a')}{huge}{article(3, 'c')}</PubmedArticleSet>"
        )
        out = registered_reader("read.pubmed_xml")(folder, tmp_path)
        assert (out.records, out.kept, out.quarantined) == (3, 2, 1), out.reasons
        (entry,) = out.quarantine
        assert entry["reason"] == "too_large" and entry["location"]["pmid"] == "2"
        assert entry["location"]["bytes"][1] - entry["location"]["bytes"][0] == len(huge)

    def test_nul_bytes_in_a_csv_cell_are_removed_and_counted(self, folder, tmp_path):
        (folder / "qa.csv").write_bytes(b'id,question,answer\n1,"What\x00 is\x00 insulin?",A hormone.\n')
        reader_out = registered_reader("read.qa")(folder, tmp_path)
        assert (
            reader_out.kept == 1 and "\x00" not in reader_out.texts[0] and "What is insulin?" in reader_out.texts[0]
        )
        result, manifest, _ = build(tmp_path, {"type": "read.qa", "path": str(folder)})
        assert result.exit_code == 0
        assert "nul_bytes_removed" in json.dumps(manifest["sources"]["web"])
