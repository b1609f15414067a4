"""The stage-2 pieces in real datatrove pipelines (LocalPipelineExecutor, 2 tasks), end to end to a dataset
directory that `datasets.load_dataset` reads: adapters -> eval-set decontamination -> mixture -> parquet per split.
"""

from __future__ import annotations

import json
from collections import Counter

from datatrove.executor import LocalPipelineExecutor
from datatrove.pipeline.readers import JsonlReader
from datatrove.pipeline.writers import JsonlWriter

from corpusforge.instruct.eval_sets import CONTAMINATION_DIR, ContaminationReport
from corpusforge.instruct.mixing import MixSpec, MixtureReport
from corpusforge.instruct.stages import mix_scan_steps, mix_write_steps, needs_scan
from corpusforge.output.card import card_metadata, render_card
from corpusforge.output.dataset_dir import split_files
from corpusforge.pipeline.registry import BuildContext, registered
from tests.instruct.helpers import REPO, SAMPLES

SOURCES = {
    "medmcqa": {"type": "instruct.medmcqa", "path": str(SAMPLES / "medmcqa/train.json")},
    "medqa": {"type": "instruct.medqa", "path": str(SAMPLES / "medqa/train.jsonl")},
    "pqal": {"type": "instruct.pubmedqa", "path": str(REPO / "data/samples/pubmedqa/ori_pqal_sample.json")},
    "promptcblue": {"type": "instruct.promptcblue", "path": str(SAMPLES / "promptcblue/train.json")},
}
DECONTAM = {
    "type": "decontam.eval_sets",
    "sets": [
        {"name": "pubmedqa_test", "kind": "pubmedqa", "test_ground_truth": str(REPO / "data/samples/pubmedqa/test_ground_truth_sample.json")},
        {"name": "medqa_test", "kind": "medqa", "path": str(SAMPLES / "medqa/test.jsonl")},
        {"name": "medmcqa_dev", "kind": "medmcqa", "path": str(SAMPLES / "medmcqa/dev.json")},
    ],
}  # fmt: skip
MIX = MixSpec.model_validate(
    {"seed": 1, "splits": {"validation": 0.25}, "sources": {"pqal": {"cap": 6}, "promptcblue": {"weight": 2}}}
)


def stats_of(logging_dir) -> list[dict]:
    """Per-step stats summed over tasks (what the engine's accounting reads)."""
    steps: list[Counter] = []
    for path in sorted((logging_dir / "stats").glob("*.json")):
        for i, step in enumerate(json.loads(path.read_text())):
            while len(steps) <= i:
                steps.append(Counter())
            steps[i].update({k: (v["total"] if isinstance(v, dict) else v) for k, v in step["stats"].items()})
    return steps


def test_stage2_pipeline_to_a_loadable_dataset(tmp_path):
    work, out = tmp_path / "work", tmp_path / "out"
    for name, reader in SOURCES.items():
        ctx = BuildContext(source=name, output_dir=out, work_dir=work)
        steps = [registered()[p["type"]].build(registered()[p["type"]].params.model_validate(p), ctx)
                 for p in (reader, DECONTAM)]  # fmt: skip
        steps.append(JsonlWriter(str(work / "sources" / name), output_filename="${rank}.jsonl", compression=None))
        LocalPipelineExecutor(steps, tasks=2, workers=1, logging_dir=str(work / "logs" / name)).run()
        reader_stats, filter_stats = stats_of(work / "logs" / name)[:2]
        assert reader_stats["records"] == filter_stats["total"] + reader_stats.get("dropped", 0) + reader_stats.get(
            "quarantined", 0
        )

    def intermediate():
        return JsonlReader(str(work / "sources"), glob_pattern="*/*.jsonl", recursive=True)

    assert needs_scan(MIX)
    LocalPipelineExecutor([intermediate(), *mix_scan_steps(MIX, work)], tasks=2, workers=1,
                          logging_dir=str(work / "logs" / "scan")).run()  # fmt: skip
    LocalPipelineExecutor([intermediate(), *mix_write_steps(MIX, work, out)], tasks=2, workers=1,
                          logging_dir=str(work / "logs" / "write")).run()  # fmt: skip

    mix_stats = stats_of(work / "logs" / "write")[1]
    mixture = MixtureReport.from_stats(mix_stats)
    contamination = ContaminationReport.from_folder(work / CONTAMINATION_DIR)
    splits = split_files(out)
    meta = card_metadata({"default": {s: f"data/{s}/*.parquet" for s in splits}})
    (out / "README.md").write_text(render_card(meta, "stage 2", [("Mixture", mixture.to_markdown(MIX)),
                                                                 ("Decontamination", contamination.to_markdown())]))  # fmt: skip

    import datasets

    ds = datasets.load_dataset(str(out))
    assert set(ds) == {"train", "validation"}
    rows = [r for split in ds for r in ds[split]]
    counts = mixture.to_dict()
    assert len(rows) == sum(c["after_weight"] for c in counts.values())
    assert counts["pqal"]["input"] == 10 and counts["pqal"]["after_cap"] == 6  # 20 items - 10 official test PMIDs
    assert contamination.to_dict()["pubmedqa_test"]["pqal"]["id"] == 10
    pcb = counts["promptcblue"]["splits"]  # weight 2: two copies of every train record, one of every validation one
    assert pcb.get("train", 0) % 2 == 0 and pcb.get("train", 0) // 2 + pcb.get("validation", 0) == 4
    assert len({r["id"] for r in rows}) == len(rows)
    assert {r["task_id"] for r in rows} == {0, 1, 2, 5}
    assert any(r["mc"] is None for r in rows) and any(r["mc"] and r["mc"]["context"] for r in rows)
