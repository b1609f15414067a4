"""recipes/examples/real_stage1.yaml on the real files in ../shared/data/real (skipped when they are absent):
every source balances, the book keeps its body text and nothing of its licence, contents, footnotes or
illustrations, the knowledge graph reads as sentences, and the manifest and card tell what happened."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REAL = REPO.parent / "shared" / "data" / "real"
PQAL = REPO.parent / "shared" / "data" / "pubmedqa" / "ori_pqal.json"
RESIDUE = [
    re.compile(p)
    for p in (
        r"(?i)project gutenberg", r"\*\*\*", r"(?im)^\s*produced by", r"\bCONTENTS\b", r"(?i)\[illustration",
        r"(?i)\[footnote", r"(?i)transcriber", r"(?m)^\(\d{1,3}[a-z]?\) ", r"[A-Za-z.,;:\"'”’)]\(\d{1,3}[a-z]?\)",
        r"\[[A-Z][A-Z ]+ \d+\]", r"(?i)full license",
    )
]  # fmt: skip


@pytest.fixture(scope="module")
def real_build(tmp_path_factory):
    if not (REAL / "books").is_dir() or not PQAL.is_file():
        pytest.skip(f"real data not found at {REAL} / {PQAL}")
    import pytest as _pytest
    from rich.console import Console

    from corpusforge.builder.recipe import load_recipe
    from corpusforge.builder.runner import build

    out = tmp_path_factory.mktemp("real") / "out"
    # MinHash is covered by the bundled recipe's golden test; here it would only add a minute of CPU
    overrides = ["executor.workers=1", "dedup.minhash.enabled=false"]
    with _pytest.MonkeyPatch.context() as mp:
        mp.chdir(REPO)  # the recipe's paths are relative to the repository root
        result = build(
            load_recipe("recipes/examples/real_stage1.yaml", overrides, str(out)), console=Console(quiet=True)
        )
    return result.manifest, out


@pytest.mark.slow
def test_every_real_source_balances(real_build):
    manifest, _ = real_build
    assert manifest["status"] == "ok"
    assert set(manifest["sources"]) == {"books", "pharmacotherapy_kg", "medical_kg_zh", "pubmed", "pmc"}
    for name, source in manifest["sources"].items():
        assert source["balanced"], name
        for seg in source["segments"]:
            assert seg["input"] == seg["output"] + sum(seg["dropped"].values()) + seg["quarantined"], name
    units = [seg["unit"] for s in manifest["sources"].values() for seg in s["segments"]]
    assert units == ["books", "chunks", "triples", "subgraphs", "triples", "subgraphs", "records", "articles"]
    for row in manifest["totals_by_unit"].values():
        assert row["input"] == row["kept"] + row["expanded"] + row["dropped"] + row["quarantined"]
    pmc = manifest["sources"]["pmc"]
    assert pmc["input"] == len(list((REAL / "pmc_jats").glob("*.xml"))) and pmc["kept"] == pmc["input"]
    checks = {(c["source"], c["step"]) for c in manifest["decontamination_checks"]}
    assert checks == {("pubmed", "decontam.pubmedqa"), ("pmc", "decontam.pubmedqa")}
    zh = manifest["sources"]["medical_kg_zh"]
    assert zh["kg_coverage"]["share_covered"] >= 0.95 and zh["kg_coverage"]["template_fallbacks"] == {}
    assert "too_short" not in zh["segments"][-1]["dropped"]  # Chinese sentences are not too short for min_chars 20


@pytest.mark.slow
def test_licences_per_record_in_manifest_and_card(real_build):
    manifest, out = real_build
    by_license = manifest["licenses"]["by_license"]
    assert by_license["cc-by-4.0"]["records"] == manifest["sources"]["pmc"]["kept"]  # read from each JATS file
    assert set(by_license) == {"cc-by-4.0", "public-domain", "cc0-1.0", "research-only"}
    assert sum(r["records"] for r in by_license.values()) == manifest["rows_written"]
    card = (out / "README.md").read_text()
    assert "license: other" in card and "license_name: 'mixed: " in card and "## Licences" in card


@pytest.mark.slow
def test_the_book_keeps_its_body_and_no_residue(real_build):
    from datasets import load_dataset

    manifest, out = real_build
    stripping = manifest["sources"]["books"]["book_stripping"]
    assert 0.8 < stripping["share_of_chars_kept"] < 0.95
    kinds = ("gutenberg_header", "gutenberg_footer", "credits", "title_page", "toc", "footnotes", "footnote_markers")
    for kind in kinds:
        assert stripping["chars_stripped_by_kind"][kind] > 0, kind
    rows = load_dataset(str(out), split="train")
    chunks = [r["text"] for r in rows if r["source"] == "books"]
    assert len(chunks) == manifest["sources"]["books"]["kept"] > 100
    for pattern in RESIDUE:
        hits = [c for c in chunks if pattern.search(c)]
        assert not hits, (pattern.pattern, hits[0][:300])
    # wrapped lines were joined (CR CR LF normalized first): chunks end where sentences end
    unfinished = [c for c in chunks if c.rstrip()[-1] not in ".!?\"'”’)]:;"]
    assert len(unfinished) <= 0.05 * len(chunks), unfinished[:3]
    text = "\n".join(chunks)
    assert "MEDICINE arose out of the primal sympathy of man with man" in text  # the body is there
    assert "by William Osler" not in text and "IN APRIL, 1913" not in text  # the title page is not
    graph = [r["text"] for r in rows if r["source"] == "pharmacotherapy_kg"]
    assert graph and all(" — " not in t and "The DM of" not in t for t in graph)
    assert manifest["sources"]["pharmacotherapy_kg"]["kg_coverage"]["template_fallbacks"] == {}
    card = (out / "README.md").read_text()
    assert "`decontam.pubmedqa` ran on `pubmed`: removed" in card and "characters kept" in card
    assert json.loads((out / "manifest.json").read_text())["totals_by_unit"]["chunks"]["kept"] == len(chunks)
