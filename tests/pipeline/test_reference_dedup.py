"""`dedup.reference`: a source deduplicated against an existing corpus, through `corpusforge build`.

The reference is a corpusforge output built here (and, in the index tests, parquet/JSONL files, a folder saved by
`datasets` and a `load_dataset` folder); the new source plants exact and lightly edited copies of reference
documents among fresh ones. Checked: what is dropped and why, the matched reference id of every drop, the index
cached and reused by a second build, recomputed when the reference changes, and one-line errors for bad references.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from corpusforge.cli import app
from corpusforge.pipeline.reference.cache import obtain_index
from corpusforge.pipeline.reference.index import IndexParams
from corpusforge.pipeline.reference.sources import ReferenceSpec, open_reference
from tests.cli.test_errors import REPO, assert_short_error, run_cli

VOCABULARY = (
    "patient disease insulin glucose therapy trial outcome risk blood pressure cancer cell protein study results "
    "dose effect chronic acute fever infection antibiotic heart failure kidney liver lung stroke diabetes serum "
    "renal hepatic cohort placebo randomized mortality incidence biopsy tumor lesion receptor enzyme plasma"
).split()


def make_text(rng: random.Random, words: int = 150) -> str:
    return " ".join(rng.choice(VOCABULARY) for _ in range(words)).capitalize() + "."


def edit_words(text: str, rng: random.Random, changes: int = 2) -> str:
    """A light edit: `changes` words replaced by words the vocabulary does not have."""
    words = text.split()
    for i in rng.sample(range(1, len(words) - 1), changes):
        words[i] = f"edited{i}"
    return " ".join(words)


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def build(recipe: dict, path: Path):
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    result = CliRunner().invoke(app, ["build", str(path), "--overwrite", "--no-report"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads((Path(recipe["output"]["path"]) / "manifest.json").read_text())


def jsonl_recipe(source: Path, output: Path, reference_step: dict, tasks: int = 1) -> dict:
    return {
        "name": "new-source",
        "output": {"path": str(output)},
        "executor": {"type": "local", "tasks": tasks, "workers": 1},
        "sources": {"new": {"reader": {"type": "read.jsonl", "path": str(source)}, "steps": [reference_step]}},
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
    }


@pytest.fixture(scope="module")
def reference_build(tmp_path_factory) -> tuple[Path, list[dict]]:
    """A corpusforge output of 40 documents (ids `old:d<i>`), built by the CLI."""
    root = tmp_path_factory.mktemp("reference")
    rng = random.Random(1)
    docs = [{"id": f"d{i}", "text": make_text(rng)} for i in range(40)]
    write_jsonl(root / "old.jsonl", docs)
    recipe = {
        "name": "old-corpus",
        "output": {"path": str(root / "built")},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {"old": {"reader": {"type": "read.jsonl", "path": str(root / "old.jsonl")}}},
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
    }
    manifest = build(recipe, root / "old.yaml")
    assert manifest["totals"]["kept"] == 40
    return root / "built", docs


def planted_source(path: Path, reference: list[dict], seed: int = 2) -> dict[str, str | None]:
    """2 exact copies (one with its whitespace changed), 2 copies with 2 words edited, 4 fresh documents;
    returns {new id: the reference id it copies, or None}."""
    rng = random.Random(seed)
    records, expected = [], {}
    for i, j in enumerate((3, 7)):
        text = reference[j]["text"] if i == 0 else "  " + reference[j]["text"].replace(" ", "\n", 3)
        records.append({"id": f"exact{i}", "text": text})
        expected[f"new:exact{i}"] = f"old:d{j}"
    for i, j in enumerate((11, 29)):
        records.append({"id": f"near{i}", "text": edit_words(reference[j]["text"], rng)})
        expected[f"new:near{i}"] = f"old:d{j}"
    for i in range(4):
        records.append({"id": f"fresh{i}", "text": make_text(rng)})
        expected[f"new:fresh{i}"] = None
    write_jsonl(path, records)
    return expected


def matches(output: Path) -> list[dict]:
    files = sorted((output / ".corpusforge" / "reference_dedup").rglob("*.matches.jsonl"))
    return [json.loads(line) for f in files for line in f.read_text().splitlines()]


def test_build_drops_copies_of_a_built_corpus_with_the_matched_ids(reference_build, tmp_path):
    built, docs = reference_build
    expected = planted_source(tmp_path / "new.jsonl", docs)
    step = {"type": "dedup.reference", "path": str(built), "cache_dir": str(tmp_path / "cache")}
    manifest = build(jsonl_recipe(tmp_path / "new.jsonl", tmp_path / "out", step, tasks=2), tmp_path / "r.yaml")

    source = manifest["sources"]["new"]
    assert source["balanced"] and source["input"] == 8 and source["kept"] == 4
    assert source["dropped"] == {"reference_exact_duplicate": 2, "reference_near_duplicate": 2}
    found = {m["id"]: m for m in matches(tmp_path / "out")}
    assert {i: m["ref"] for i, m in found.items()} == {i: ref for i, ref in expected.items() if ref}
    assert all(0.5 <= found[f"new:near{i}"]["similarity"] < 1 for i in range(2))

    [check] = manifest["reference_dedup"]
    assert check["source"] == "new" and check["checked"] == 8 and check["removed"] == 4
    assert check["index"]["documents"] == 40 and check["tasks_that_built_the_index"] == 1
    assert check["reference"].startswith(f"corpusforge output {built}")
    card = (tmp_path / "out" / "README.md").read_text()
    assert "Deduplication against reference corpora" in card and "removed 4 (reference_exact_duplicate 2" in card

    # the report's dropped-records sample names the matched reference document too
    samples = [
        json.loads(line)
        for f in (tmp_path / "out" / ".corpusforge" / "dropped_samples" / "new").glob("*.jsonl")
        for line in f.read_text().splitlines()
    ]
    assert {s["id"]: s["match"]["ref"] for s in samples} == {i: ref for i, ref in expected.items() if ref}


def test_the_index_is_reused_by_the_next_build_and_recomputed_when_the_reference_changes(reference_build, tmp_path):
    _, docs = reference_build
    reference = write_jsonl(
        tmp_path / "ref" / "old.jsonl", [{"id": f"old:{d['id']}", "text": d["text"]} for d in docs]
    )
    expected = planted_source(tmp_path / "new.jsonl", docs)
    step = {"type": "dedup.reference", "path": str(reference), "cache_dir": str(tmp_path / "cache")}

    first = build(jsonl_recipe(tmp_path / "new.jsonl", tmp_path / "out1", step), tmp_path / "r1.yaml")
    [check] = first["reference_dedup"]
    assert check["tasks_that_built_the_index"] == 1 and check["removed"] == 4
    index = Path(check["index"]["path"])
    built_at = (index / "meta.json").stat().st_mtime_ns

    second = build(jsonl_recipe(tmp_path / "new.jsonl", tmp_path / "out2", step), tmp_path / "r2.yaml")
    [again] = second["reference_dedup"]
    assert again["tasks_that_built_the_index"] == 0, "the cached index was recomputed"
    assert again["index_key"] == check["index_key"] and (index / "meta.json").stat().st_mtime_ns == built_at
    assert {m["id"]: m["ref"] for m in matches(tmp_path / "out2")} == {i: r for i, r in expected.items() if r}

    # the reference gains the text of fresh0: a new key, a new index, and fresh0 is now a copy
    fresh = json.loads((tmp_path / "new.jsonl").read_text().splitlines()[4])
    assert fresh["id"] == "fresh0"
    with reference.open("a") as f:
        f.write(json.dumps({"id": "old:added", "text": fresh["text"]}) + "\n")
    third = build(jsonl_recipe(tmp_path / "new.jsonl", tmp_path / "out3", step), tmp_path / "r3.yaml")
    [changed] = third["reference_dedup"]
    assert changed["tasks_that_built_the_index"] == 1 and changed["index_key"] != check["index_key"]
    assert changed["index"]["documents"] == 41 and changed["removed"] == 5
    assert {m["id"]: m["ref"] for m in matches(tmp_path / "out3")}["new:fresh0"] == "old:added"


# ---- the index on every reference layout, without a build ----------------------------------------------------


def lookups(spec: ReferenceSpec, texts: list[str], cache: Path) -> list:
    obtained = obtain_index(open_reference(spec), IndexParams(), 0.5, str(cache))
    return [obtained.index.match(t) for t in texts]


def test_every_reference_layout_gives_the_same_matches(tmp_path):
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = random.Random(5)
    docs = [{"id": f"r{i}", "text": make_text(rng)} for i in range(12)]
    queries = [docs[2]["text"], edit_words(docs[5]["text"], rng), make_text(rng)]
    table = pa.Table.from_pylist(docs)
    pq.write_table(table, tmp_path / "ref.parquet")
    write_jsonl(tmp_path / "ref.jsonl", docs)
    datasets.Dataset.from_list(docs).save_to_disk(str(tmp_path / "saved"))
    (tmp_path / "hubdir" / "data").mkdir(parents=True)
    pq.write_table(table, tmp_path / "hubdir" / "data" / "train-00000-of-00001.parquet")
    specs = {
        "parquet": ReferenceSpec(path=str(tmp_path / "ref.parquet")),
        "jsonl": ReferenceSpec(path=str(tmp_path / "ref.jsonl")),
        "saved_dataset": ReferenceSpec(path=str(tmp_path / "saved")),
        "load_dataset": ReferenceSpec(hub=str(tmp_path / "hubdir")),
    }
    for name, spec in specs.items():
        exact, near, fresh = lookups(spec, queries, tmp_path / "cache")
        assert (exact.kind, exact.ref_id) == ("exact", "r2"), name
        assert (near.kind, near.ref_id) == ("near", "r5") and near.similarity >= 0.5, name
        assert fresh is None, name
    assert len([p for p in (tmp_path / "cache").iterdir() if (p / "meta.json").is_file()]) == 4


def test_unusable_reference_records_are_counted_not_hidden(tmp_path):
    rng = random.Random(3)
    good = make_text(rng)
    path = tmp_path / "ref.jsonl"
    path.write_text(
        json.dumps({"text": good}) + "\n{broken\n" + json.dumps({"id": "x", "body": "no text"}) + "\n"
        + json.dumps({"id": "y", "text": "   "}) + "\n" + json.dumps({"id": "z", "text": "short one"}) + "\n"
    )  # fmt: skip
    obtained = obtain_index(open_reference(ReferenceSpec(path=str(path))), IndexParams(), 0.5, str(tmp_path / "c"))
    meta = obtained.index.meta
    assert meta["documents"] == 2 and meta["too_short_for_minhash"] == 1
    assert meta["skipped"]["by_reason"] == {"bad_json": 1, "empty_text": 1, "no_text": 1}
    assert meta["skipped"]["examples"]["bad_json"] == ["ref.jsonl:2"]
    assert obtained.index.match(good).ref_id == "ref.jsonl:1"  # no id field: named by file and line
    assert obtained.index.match("short one").ref_id == "z"  # too short for MinHash, still matched exactly


# ---- errors a user can cause: one line, before any I/O --------------------------------------------------------


def cli_build(tmp_path: Path, step: dict, env: dict | None = None) -> subprocess.CompletedProcess:
    write_jsonl(tmp_path / "new.jsonl", [{"id": "a", "text": "some text here"}])
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(jsonl_recipe(tmp_path / "new.jsonl", tmp_path / "out", step)))
    return run_cli("build", str(path), env=env, cwd=REPO)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: {"path": str(p / "missing")}, "sources.new.steps.0.path: "),
        (lambda p: {"path": str(p / "ref.csv")}, "unsupported reference file"),
        (lambda p: {"path": str(p / "empty_dir")}, "no parquet or JSONL files in this folder"),
        (lambda p: {"hub": "no-such-org/no-such-dataset"}, "sources.new.steps.0.hub: no-such-org/no-such-dataset"),
        (lambda p: {"path": str(p / "ref.jsonl"), "hub": "org/name"}, "exactly one of `path`"),
        (lambda p: {"path": str(p / "ref.parquet")}, "ref.parquet: no column 'text' (columns: body); set text_key"),
    ],
    ids=["missing", "unsupported", "folder-without-data-files", "hub-offline-not-cached", "both", "no-text-column"],
)
def test_a_bad_reference_is_one_line_before_anything_is_written(tmp_path, make, message):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "ref.csv").write_text("text\nx\n")
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "ref.parquet")
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "empty_dir" / "notes.txt").write_text("not a reference")
    write_jsonl(tmp_path / "ref.jsonl", [{"text": "x"}])
    step = {"type": "dedup.reference", "cache_dir": str(tmp_path / "cache"), **make(tmp_path)}
    proc = cli_build(tmp_path, step, env={"HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")})
    assert_short_error(proc, message, proc.returncode)
    assert proc.returncode != 0 and not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_a_reference_without_its_text_field_names_the_file_and_the_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "ref.parquet")
    with pytest.raises(Exception, match=r"ref.parquet: no column 'text' \(columns: body\); set text_key"):
        lookups(ReferenceSpec(path=str(tmp_path / "ref.parquet")), ["x"], tmp_path / "cache")


def test_the_step_pickles_for_the_executors_workers():
    import pickle

    from corpusforge.pipeline.steps.reference_dedup import ReferenceDedup

    step = ReferenceDedup(ReferenceSpec(path="x.jsonl"), IndexParams(near=False))
    assert pickle.loads(pickle.dumps(step)).index_params == IndexParams(near=False)


# ---- the example recipe on the real files ---------------------------------------------------------------------

BC5CDR = REPO.parent / "shared/data/real/pubmed/bc5cdr_train.jsonl"


def test_the_example_recipe_drops_what_an_earlier_release_has(tmp_path, monkeypatch):
    """recipes/examples/dedup_against_reference.yaml against a release holding 100 of BC5CDR's 500 abstracts."""
    if not BC5CDR.is_file():
        pytest.skip(f"real data not found at {BC5CDR}")
    (tmp_path / "release1.jsonl").write_text("\n".join(BC5CDR.read_text().splitlines()[:100]) + "\n")
    release = {
        "name": "release1",
        "output": {"path": str(tmp_path / "release1")},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {"bc5cdr": {"reader": {"type": "read.pubmed_jsonl", "path": str(tmp_path / "release1.jsonl")}}},
        "filters": [{"type": "clean.characters", "normalization": "NFC"}],
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
    }
    assert build(release, tmp_path / "release1.yaml")["totals"]["kept"] == 100

    monkeypatch.chdir(REPO)  # the recipe's paths are relative to the repository root
    overrides = [f"filters.1.path={tmp_path / 'release1'}", f"filters.1.cache_dir={tmp_path / 'cache'}",
                 "executor.workers=1", "dedup.minhash.enabled=false"]  # fmt: skip
    args = ["build", "recipes/examples/dedup_against_reference.yaml", "-o", str(tmp_path / "new"), "--no-report"]
    result = CliRunner().invoke(app, args + [x for o in overrides for x in ("--set", o)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    manifest = json.loads((tmp_path / "new" / "manifest.json").read_text())
    assert manifest["sources"]["bc5cdr"]["dropped"] == {"reference_exact_duplicate": 100}
    sample = manifest["sources"]["sample"]
    assert manifest["sources"]["bc5cdr"]["kept"] == 400 and sample["kept"] >= 3
    assert not any(reason.startswith("reference_") for reason in sample["dropped"]), sample["dropped"]
    found = matches(tmp_path / "new")
    assert len(found) == 100 and all(m["ref"] == m["id"] for m in found)  # the same abstract, the same id
