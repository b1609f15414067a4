"""recipes/examples/real_stage2.yaml: a stage-2 build from the real public files in ../shared/data/real, with
recipe settings only (skipped when the files are absent).

Checked on the built dataset: every source balances; every multiple-choice record carries its source's gold
answer (read back from the source file at the record's provenance, independently of the parsers) and its rendered
target names that option; ids are unique; every CMtMedQA dialogue keeps all its turns, in the chat records and in
the LLaMA-Factory and axolotl exports.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corpusforge.export import export_axolotl, export_llamafactory
from tests.builder.test_instruct_recipes import cli

RECIPE = "recipes/examples/real_stage2.yaml"
LETTER = {"yes": "A", "no": "B", "maybe": "C"}


@pytest.fixture(scope="module")
def real_build(tmp_path_factory, repo_root) -> Path:
    real = repo_root.parent / "shared" / "data"
    if not (real / "real" / "exams").is_dir() or not (real / "pubmedqa" / "ori_pqal.json").is_file():
        pytest.skip(f"real data not found at {real}")
    out = tmp_path_factory.mktemp("real_stage2") / "out"
    cli(repo_root, "build", RECIPE, "--output", str(out), "--set", "executor.tasks=1", "--set", "executor.workers=1")
    return out


def load_splits(output: Path) -> dict[str, list[dict]]:
    """The built records per split, read straight from the parquet shards."""
    import pyarrow.parquet as pq

    return {p.name: [r for f in sorted(p.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
            for p in sorted((output / "data").iterdir())}  # fmt: skip


def source_rows(repo_root: Path, file: str) -> list:
    """The rows of a source file as published: JSON lines by line number (1-based), JSON arrays by index."""
    path = Path(file) if Path(file).is_absolute() else repo_root / file
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [None] + [json.loads(line) if line.strip() else None for line in text.splitlines()]


def gold_letter(source: str, row: dict) -> str:
    if source == "medqa":
        return row["answer_idx"]
    if source == "medmcqa":
        return row["answer"].split(".", 1)[0].strip()  # "B. Anterior ethmoidal artery"
    if source == "cmexam":
        return row["Answer"].strip()
    raise AssertionError(source)


@pytest.mark.slow
def test_real_stage2_balances_keeps_gold_answers_unique_ids_and_dialogue_turns(real_build, repo_root, tmp_path):
    manifest = json.loads((real_build / "manifest.json").read_text())
    sources = manifest["sources"]
    assert set(sources) == {"medqa", "medmcqa", "cmexam", "huatuo", "cmtmedqa", "pubmedqa"}
    for name, account in sources.items():
        assert account["balanced"], (name, account["balance"])
        assert account["quarantined"] == 0, (name, account["quarantined_by_reason"])
    assert {n: sources[n]["input"] for n in ("medqa", "medmcqa", "cmexam", "huatuo", "cmtmedqa")} == {
        "medqa": 1273, "medmcqa": 846, "cmexam": 500, "huatuo": 300, "cmtmedqa": 100}  # fmt: skip
    assert sources["pubmedqa"]["dropped"] == {"official_test": 500}

    splits = load_splits(real_build)
    records = [r for ds in splits.values() for r in ds]
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)) == sum(s["rows"] for s in sources.values())

    rows_cache: dict[str, list] = {}
    pqal = json.loads((repo_root / "../shared/data/pubmedqa/ori_pqal.json").read_text())
    checked = 0
    for record in records:
        source, mc, prov = record["source"], record["mc"], record["provenance"]
        if mc is None:
            continue
        if source == "pubmedqa":
            gold = LETTER[pqal[prov["pmid"]]["final_decision"]]
        else:
            if prov["file"] not in rows_cache:
                rows_cache[prov["file"]] = source_rows(repo_root, prov["file"])
            gold = gold_letter(source, rows_cache[prov["file"]][prov["line"]])
        assert mc["answer"] == gold, (record["id"], mc["answer"], gold)
        text = next(o["text"] for o in mc["options"] if o["key"] == gold)
        assert f"{gold}) {text}" in record["messages"][-1]["content"], record["id"]
        checked += 1
    assert checked == sum(sources[n]["kept"] for n in ("medqa", "medmcqa", "cmexam", "pubmedqa"))

    dialogues = {r["provenance"]["row"]: r for r in records if r["source"] == "cmtmedqa"}
    published = json.loads((repo_root / "../shared/data/real/instruct/CMtMedQA_test_first100.json").read_text())
    assert len(dialogues) == len(published)
    for i, row in enumerate(published):
        turns = [*row["history"], [row["instruction"], row["output"]]]
        assert [m["content"] for m in dialogues[i]["messages"]] == [t for turn in turns for t in turn]

    export_llamafactory(real_build, tmp_path / "lf")
    export_axolotl(real_build, tmp_path / "ax")
    exported = {}
    for split in splits:
        for line in (tmp_path / "lf" / f"corpusforge_{split}.sharegpt.jsonl").read_text().splitlines():
            row = json.loads(line)
            exported[row["conversations"][-1]["value"]] = len(row["conversations"])
        axolotl = (tmp_path / "ax" / f"corpusforge_{split}.jsonl").read_text().splitlines()
        assert len(axolotl) == len(splits[split])
    for i, row in enumerate(published):
        assert exported[dialogues[i]["messages"][-1]["content"]] == 2 * (len(row["history"]) + 1)
    axolotl_rows = [json.loads(x) for f in (tmp_path / "ax").glob("*.jsonl") for x in f.read_text().splitlines()]
    by_last = {r["messages"][-1]["content"]: r["messages"] for r in axolotl_rows}
    assert all(by_last[d["messages"][-1]["content"]] == d["messages"] for d in dialogues.values())
