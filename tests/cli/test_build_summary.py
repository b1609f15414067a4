"""The terminal summary of `corpusforge build`: a source that changes unit shows each count in its own unit."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from corpusforge.cli.build import print_report


def test_units_are_never_added_together():
    kg = {
        "input": 1388, "kept": 572, "quarantined": 0, "balanced": True, "dropped": {"not_sampled": 48, "near": 11},
        "balance": "...",
        "segments": [
            {"unit": "triples", "input": 1388, "output": 1340, "dropped": {"not_sampled": 48}, "quarantined": 0},
            {"unit": "subgraphs", "input": 583, "output": 572, "dropped": {"near_duplicate": 11}, "quarantined": 0},
        ],
    }  # fmt: skip
    pubmed = {
        "input": 500, "kept": 496, "quarantined": 0, "balanced": True, "dropped": {"no_abstract": 4}, "balance": "...",
        "segments": [{"unit": "records", "input": 500, "output": 496, "dropped": {"no_abstract": 4}, "quarantined": 0}],
    }  # fmt: skip
    manifest = {
        "recipe": "r", "sources": {"kg": kg, "pubmed": pubmed}, "status": "ok", "rows_written": 1068, "files": [],
        "totals": {"quarantined": 0}, "totals_by_unit": {}, "dropped_by_reason": {},
    }  # fmt: skip
    console = Console(record=True, width=200)
    print_report(console, manifest, Path("out"))
    text = console.export_text()
    kg_row = next(line for line in text.splitlines() if line.startswith("│ kg"))
    assert "1388 triples" in kg_row and "572 subgraphs" in kg_row and "48 triples + 11 subgraphs" in kg_row
    assert "59" not in kg_row
    pubmed_row = next(line for line in text.splitlines() if line.startswith("│ pubmed"))
    assert " 500 " in pubmed_row and " 496 " in pubmed_row and "records" not in pubmed_row  # one unit: plain
