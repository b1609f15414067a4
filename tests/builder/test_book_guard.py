"""A book that stripping would mostly remove, through a whole build: quarantined with its reason, counted in the
balance of its source, listed in the manifest, and failing a --strict build."""

from __future__ import annotations

import json

from rich.console import Console

from corpusforge.builder.recipe import load_recipe
from corpusforge.builder.runner import build
from tests.builder.conftest import write_recipe
from tests.pipeline.test_book_sources import PROSE, gutenberg_book


def test_mostly_stripped_book_is_quarantined_counted_and_fails_strict(tmp_path):
    books = tmp_path / "books"
    books.mkdir()
    (books / "pg.txt").write_text(gutenberg_book().replace("\n", "\r\r\n"), encoding="utf-8", newline="")
    table = "\n".join(f"| drug {i} | {i} mg | oral |" for i in range(200))
    (books / "tables.txt").write_text(PROSE + "\n\n" + table, encoding="utf-8")
    recipe = {
        "name": "guard",
        "output": {"path": str(tmp_path / "out")},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {
            "books": {
                "reader": {"type": "read.books", "path": str(books)},
                "steps": [{"type": "books.strip_nontext"}, {"type": "books.chunk", "language": "en"}],
            }
        },
    }
    path = write_recipe(tmp_path / "recipe.yaml", recipe)
    manifest = build(load_recipe(path), strict=True, console=Console(quiet=True)).manifest
    source = manifest["sources"]["books"]
    assert manifest["status"] == "failed_strict" and source["balanced"]
    assert source["quarantined"] == 1 == manifest["totals"]["quarantined"]
    assert source["quarantined_by_reason"] == {"stripped_most_of_book": 1}
    assert source["segments"][0] == {
        "unit": "books", "input": 2, "quarantined": 1, "dropped": {}, "output": 1, "balanced": True,
    }  # fmt: skip
    assert source["book_stripping"]["chars_in_quarantined_books"] > 5000
    (qfile,) = manifest["quarantine_files"]
    assert qfile.startswith("quarantine/books/books.strip_nontext/")
    record = json.loads((tmp_path / "out" / qfile).read_text())
    assert record["reason"] == "stripped_most_of_book" and record["location"]["file"].endswith("tables.txt")
