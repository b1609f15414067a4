"""Every option of the instruction adapters, honoured by every adapter that has it (one test per option).

Each adapter reads a small file of its source's layout; each test sets one option and checks its effect on every
adapter. `cap` and `validation` (the recipe's mixture, decided on record ids) are checked per adapter too: they
only work when every record of the source has an id of its own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from corpusforge.instruct.mixing import MixSpec
from corpusforge.instruct.steps import MixApply, MixScan
from corpusforge.pipeline.registry import registered
from tests.instruct.helpers import REPO, SAMPLES, read

PQAL = REPO / "data/samples/pubmedqa/ori_pqal_sample.json"
PQAU = REPO / "data/samples/pubmedqa/ori_pqau_sample.json"


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def _labels(folder: Path) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pmids = list(json.loads(PQAU.read_text()))[:4]
    (folder / "data").mkdir(parents=True)
    rows = [{"pmid": p, "label": "yes", "confidence": 0.9, "agreement": 1.0, "strategy": "voc"} for p in pmids]
    pq.write_table(pa.Table.from_pylist(rows), folder / "data" / "train-00000.parquet")
    return folder


def _fixtures(root: Path) -> dict[str, dict]:
    """adapter -> recipe params reading a small file of its layout (a copy under `root`, so it can be re-encoded)."""

    def copy(src: Path) -> str:
        dst = root / "files" / src.relative_to(REPO)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy(src, dst)
        return str(dst)

    dialogue = [{"id": f"d{i}", "instruction": f"谢谢{i}", "output": f"不客气{i}", "history": [[f"头痛{i}？", "休息。"]]}
                for i in range(4)]  # fmt: skip
    mapped_qa = [{"q": f"问题{i}？", "a": f"回答{i}。", "qid": f"x{i}"} for i in range(4)]
    mapped_mc = [
        {"stem": f"Q{i}?", "choices": ["x", "y", "z"], "key": "B. y", "why": f"because {i}"} for i in range(4)
    ]
    samples = {
        "instruct.promptcblue": SAMPLES / "promptcblue/train.json",
        "instruct.cmexam": SAMPLES / "cmexam/train.csv",
        "instruct.free_qa": SAMPLES / "wuma_qa/wuma_qa.json",
        "instruct.huatuo26m": SAMPLES / "huatuo/huatuo_encyclopedia_qa.jsonl",
        "instruct.medqa": SAMPLES / "medqa/train.jsonl",
        "instruct.medmcqa": SAMPLES / "medmcqa/train.json",
        "instruct.mmlu": SAMPLES / "mmlu/dev",
        "instruct.pubmedqa": PQAL,
    }
    return {
        **{name: {"path": copy(src)} for name, src in samples.items()},
        "instruct.mapped_qa": {
            "path": str(_write(root / "files/mapped_qa.jsonl", mapped_qa)),
            "task": "free_qa",
            "question_field": "q",
            "answer_field": "a",
            "id_field": "qid",
        },
        "instruct.dialogue": {"path": str(_write(root / "files/dialogue.jsonl", dialogue))},
        "instruct.mapped_mc": {
            "path": str(_write(root / "files/mapped.jsonl", mapped_mc)),
            "task": "medqa",
            "fields": {"question": "stem", "options": "choices", "answer": "key", "explanation": "why"},
        },  # fmt: skip
        "instruct.pubmedqa_labels": {"path": str(_labels(root / "files/labels")), "items_path": str(PQAU)},
    }


ADAPTERS = sorted(n for n in registered("reader") if n.startswith("instruct."))
MC_ADAPTERS = [n for n in ADAPTERS if "template" in registered("reader")[n].params.model_fields]


def test_every_adapter_has_a_fixture_here(tmp_path):
    assert set(_fixtures(tmp_path)) == set(ADAPTERS)


def run(name: str, tmp_path: Path, **options):
    params = _fixtures(tmp_path)[name]
    return read(name, tmp_path / "out", **{**params, **options})


def _baseline(name: str, tmp_path: Path):
    base = run(name, tmp_path / "base")
    assert base.balanced() and len(base.docs) >= 2, (name, base.stats)
    return base


@pytest.mark.parametrize("name", ADAPTERS)
def test_limit(tmp_path, name):
    base = _baseline(name, tmp_path)
    limited = run(name, tmp_path / "lim", limit=1)
    assert len(limited.docs) == 1 and limited.records[0]["id"] == base.records[0]["id"]


@pytest.mark.parametrize("name", ADAPTERS)
def test_glob(tmp_path, name):
    base = _baseline(name, tmp_path)
    params = _fixtures(tmp_path / "g")[name]
    path = Path(params["path"])
    folder = tmp_path / "globbed"
    (folder / "data").mkdir(parents=True) if path.is_dir() else folder.mkdir()
    target = folder / path.name
    shutil.copytree(path, target) if path.is_dir() else shutil.copy(path, target)
    (folder / "notes.txt").write_text("not a data file\n")
    pattern = f"{path.name}/**" if path.is_dir() else path.name
    got = read(name, tmp_path / "out_g", **{**params, "path": str(folder), "glob": pattern})
    assert [r["id"] for r in got.records] == [r["id"] for r in base.records]


@pytest.mark.parametrize("name", ADAPTERS)
def test_encoding(tmp_path, name):
    base = _baseline(name, tmp_path)
    params = _fixtures(tmp_path / "e")[name]
    path = Path(params["path"])
    files = [p for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file()]
    if all(p.suffix == ".parquet" for p in files):
        pytest.skip("parquet has no text encoding")
    for p in files:
        if p.suffix != ".parquet":
            p.write_bytes(p.read_text(encoding="utf-8-sig").encode("gb18030"))
    got = read(name, tmp_path / "out_e", **{**params, "encoding": "gb18030"})
    assert [r["messages"] for r in got.records] == [r["messages"] for r in base.records]


@pytest.mark.parametrize("name", ADAPTERS)
def test_max_record_bytes(tmp_path, name):
    base = _baseline(name, tmp_path)
    got = run(name, tmp_path / "m", max_record_bytes=10)
    assert got.balanced() and not got.docs
    assert {q["reason"] for q in got.quarantine} >= {"too_large"} and len(got.quarantine) >= len(base.docs)


@pytest.mark.parametrize("name", ADAPTERS)
def test_task_and_task_id(tmp_path, name):
    _baseline(name, tmp_path)
    got = run(name, tmp_path / "t", task="my_task", task_id=42)
    assert {r["task"].split("/")[0] for r in got.records} == {"my_task"}
    assert {r["task_id"] for r in got.records} == {42}


@pytest.mark.parametrize("name", ADAPTERS)
def test_task_id_alone(tmp_path, name):
    _baseline(name, tmp_path)
    assert {r["task_id"] for r in run(name, tmp_path / "t", task_id=17).records} == {17}


@pytest.mark.parametrize("name", ADAPTERS)
def test_language(tmp_path, name):
    _baseline(name, tmp_path)
    assert {r["language"] for r in run(name, tmp_path / "l", language="multi").records} == {"multi"}


@pytest.mark.parametrize("name", ADAPTERS)
def test_system_prompt(tmp_path, name):
    base = _baseline(name, tmp_path)
    got = run(name, tmp_path / "s", system_prompt="You are a medical assistant.")
    for before, after in zip(base.records, got.records, strict=True):
        assert after["messages"][0] == {"role": "system", "content": "You are a medical assistant."}
        assert after["messages"][1:] == [m for m in before["messages"] if m["role"] != "system"]


@pytest.mark.parametrize("name", MC_ADAPTERS)
def test_template(tmp_path, name):
    base = _baseline(name, tmp_path)
    got = run(name, tmp_path / "t", template="mc_table9_zh")
    assert all(json.loads(r["meta"])["template"] == "mc_table9_zh" for r in got.records)
    assert [r["messages"] for r in got.records] != [r["messages"] for r in base.records]


@pytest.mark.parametrize("name", MC_ADAPTERS)
def test_target(tmp_path, name):
    _baseline(name, tmp_path)
    for record in run(name, tmp_path / "t", target="letter").records:
        assert record["messages"][-1]["content"] == record["mc"]["answer"]


@pytest.mark.parametrize("name", MC_ADAPTERS)
def test_with_explanation(tmp_path, name):
    base = _baseline(name, tmp_path)
    got = run(name, tmp_path / "x", with_explanation=True)
    for before, after in zip(base.records, got.records, strict=True):
        explanation = after["mc"]["explanation"]
        if explanation:
            assert explanation in after["messages"][-1]["content"]
            assert explanation not in before["messages"][-1]["content"]
        else:
            assert after["messages"] == before["messages"]


def _mix(docs, tmp_path: Path, source: str, **mix) -> list:
    spec = MixSpec.model_validate({"seed": 3, "splits": mix.pop("splits", {}), "sources": {source: mix}})
    scanned = list(MixScan(spec, tmp_path / "scan").run(iter(docs)))
    return list(MixApply(spec, tmp_path / "scan").run(iter(scanned)))


@pytest.mark.parametrize("name", ADAPTERS)
def test_cap(tmp_path, name):
    base = _baseline(name, tmp_path)
    docs = [d for d in base.docs if d.metadata.get("split") != "test"]
    kept = _mix(docs, tmp_path, "src", cap=len(docs) - 1)
    assert len(kept) == len(docs) - 1 and len({d.id for d in kept}) == len(docs) - 1


@pytest.mark.parametrize("name", ADAPTERS)
def test_validation(tmp_path, name):
    base = _baseline(name, tmp_path)
    docs = [d for d in base.docs if d.metadata.get("split") != "test"]
    assert len({d.id for d in docs}) == len(docs)  # distinct ids: each record gets its own draw
    out = _mix(docs, tmp_path, "src", splits={"validation": 1.0})
    assert {d.metadata["split"] for d in out} == {"validation"} and len(out) == len(docs)
    out = _mix(docs, tmp_path / "half", "src", splits={"validation": 0.5})
    from corpusforge.instruct.mixing import assign_split

    assert [d.metadata["split"] for d in out] == [assign_split(d.id, {"validation": 0.5}, 3) for d in docs]
