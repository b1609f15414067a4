"""Licence ids per record: what sources state, the recipe's fallback, `filter.license`, subgraphs' licences."""

from __future__ import annotations

import json

import pytest
from datatrove.data import Document

from corpusforge.pipeline.licenses import gutenberg_license, license_id, matches, recipe_license
from corpusforge.pipeline.readers.books import BooksReader
from corpusforge.pipeline.readers.jsonl import JsonlTextReader
from corpusforge.pipeline.steps.kg.subgraphs import KGSubgraphs
from corpusforge.pipeline.steps.license_filter import LicenseFilter
from tests.pipeline.helpers import run_reader


@pytest.mark.parametrize(
    "stated, expected",
    [
        ("https://creativecommons.org/licenses/by/4.0/", "cc-by-4.0"),
        ("http://creativecommons.org/licenses/by-nc-nd/3.0/igo/", "cc-by-nc-nd-3.0"),
        ("http://creativecommons.org/licenses/by-nc/2.0/uk/", "cc-by-nc-2.0"),
        ("Creative Commons Attribution-NonCommercial-ShareAlike 4.0 International License", "cc-by-nc-sa-4.0"),
        ("Creative Commons Attribution (CC BY) license", "cc-by"),
        ("CC BY-NC 4.0", "cc-by-nc-4.0"),
        ("CC-BY-4.0", "cc-by-4.0"),
        ("https://creativecommons.org/publicdomain/zero/1.0/", "cc0-1.0"),
        ("CC0", "cc0-1.0"),
        ("This work is in the public domain", "public-domain"),
        ("MIT License", "mit"),
        ("Apache License, Version 2.0", "apache-2.0"),
        ("open-access", "other"),
        ("", "unknown"),
    ],
)
def test_license_id_reads_urls_names_and_ids(stated, expected):
    assert license_id(stated) == expected


def test_first_recognized_statement_wins_and_recipe_ids_are_kept():
    assert license_id(None, "open-access", "https://creativecommons.org/licenses/by-sa/4.0/") == "cc-by-sa-4.0"
    assert license_id(None, "  ") == "unknown"
    assert recipe_license("CC BY 4.0") == "cc-by-4.0"
    assert recipe_license("research-only") == "research-only"  # a licence the table does not know, kept by name
    assert recipe_license("Some Licence v2 (see site)") == "other"


def test_gutenberg_notice():
    book = "The Project Gutenberg eBook of X\n*** START OF THE PROJECT GUTENBERG EBOOK X ***\nText.\n*** END OF"
    assert gutenberg_license(book + " THE PROJECT GUTENBERG EBOOK X ***") == "public-domain"
    assert gutenberg_license("This is a COPYRIGHTED Project Gutenberg eBook, details below.") == "other"
    assert gutenberg_license("A book that says nothing about it.") is None


def test_reader_sets_recipe_license_or_unknown(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl").write_text(json.dumps({"id": "1", "text": "hello"}) + "\n")
    docs, _, _ = run_reader(JsonlTextReader(path=str(tmp_path / "in"), source="s", license="CC BY 4.0"), tmp_path)
    assert docs[0].metadata["license"] == "cc-by-4.0"
    docs, _, _ = run_reader(JsonlTextReader(path=str(tmp_path / "in"), source="s"), tmp_path)
    assert docs[0].metadata["license"] == "unknown"


def test_books_reader_reads_the_gutenberg_notice_before_the_recipe_license(tmp_path):
    (tmp_path / "in").mkdir()
    notice = (
        "*** START OF THE PROJECT GUTENBERG EBOOK X ***\nChapter one.\n*** END OF THE PROJECT GUTENBERG EBOOK X ***\n"
    )
    (tmp_path / "in" / "pg.txt").write_text(notice)
    (tmp_path / "in" / "plain.txt").write_text("A book that names no licence.\n")
    docs, _, _ = run_reader(BooksReader(path=str(tmp_path / "in"), source="b", license="CC BY 4.0"), tmp_path)
    assert {d.id: d.metadata["license"] for d in docs} == {"b:pg.txt": "public-domain", "b:plain.txt": "cc-by-4.0"}


def doc(license: str | None) -> Document:
    return Document(text="x", id=str(license), metadata={} if license is None else {"license": license})


def test_commercial_policy_drops_nc_nd_other_unknown_with_reasons():
    step = LicenseFilter(policy="commercial")
    kept = [d.metadata.get("license") for d in step.run([doc(x) for x in (
        "cc-by-4.0", "cc-by-sa-4.0", "cc0-1.0", "public-domain", "mit", "apache-2.0",
        "cc-by-nc-4.0", "cc-by-nc-nd-4.0", "cc-by-nd-4.0", "other", "unknown", None,
    )])]  # fmt: skip
    assert kept == ["cc-by-4.0", "cc-by-sa-4.0", "cc0-1.0", "public-domain", "mit", "apache-2.0"]
    stats = {k: v.total for k, v in step.stats.stats.items()}
    assert stats["dropped_license_denied"] == 3  # the NC and ND ones
    assert stats["dropped_license_not_allowed"] == 3  # other, unknown, none stated
    assert stats["removed_license/unknown"] == 2


def test_allow_and_deny_lists():
    step = LicenseFilter(allow=["cc-*"], deny=["*-nd-*"])
    kept = [d.id for d in step.run([doc("cc-by-4.0"), doc("cc-by-nd-4.0"), doc("mit")])]
    assert kept == ["cc-by-4.0"]
    assert matches("cc-by-nc-4.0", ["*-nc-*"]) and not matches("cc-by-4.0", ["*-nc-*"])


def test_filter_needs_a_policy():
    with pytest.raises(ValueError, match="policy"):
        LicenseFilter.Params(type="filter.license")


def triple_doc(head: str, tail: str, file: str, license: str) -> Document:
    return Document(
        text="",
        id=f"{file}:{head}",
        metadata={
            "triple": {"head": head, "relation": "treats", "tail": tail},
            "provenance": {"file": file, "line": 1},
            "license": license,
        },
    )


def test_subgraphs_carry_their_triples_license():
    step = KGSubgraphs(source="kg")
    docs = list(
        step.run(
            [
                triple_doc("a", "b", "one.tsv", "cc0-1.0"),
                triple_doc("a", "c", "one.tsv", "cc0-1.0"),
                triple_doc("a", "d", "two.tsv", "cc-by-nc-4.0"),
                triple_doc("x", "y", "two.tsv", "cc-by-nc-4.0"),
                triple_doc("x", "z", "two.tsv", "cc-by-nc-4.0"),
            ]
        )
    )
    by_seed = {d.metadata["seed_node"]: d.metadata for d in docs if d.metadata["strategy"] == "ego"}
    assert by_seed["a"]["license"] == "mixed" and by_seed["a"]["licenses"] == ["cc-by-nc-4.0", "cc0-1.0"]
    assert by_seed["x"]["license"] == "cc-by-nc-4.0"
