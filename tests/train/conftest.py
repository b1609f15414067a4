"""Fixtures for train/: small datasets in the build's output format, configs, and the DeepSpeed launcher.

Datasets are written the way `corpusforge build` writes them (data/<split>-00000.parquet + a README card whose
`configs` block names the splits), so `datasets.load_dataset(DIR)` reads them like real output.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from corpusforge.formats.pubmedqa import PubMedQAItem
from corpusforge.output.card import card_metadata, render_card

REPO = Path(__file__).resolve().parents[2]
LAUNCHER_TIMEOUT = 400


@pytest.fixture(autouse=True)
def run_from_the_repository_root(monkeypatch):
    """Relative paths in train configs (the presets' train/deepspeed/...) are relative to the working directory."""
    monkeypatch.chdir(REPO)


def write_dataset_dir(out: Path, splits: dict[str, list[dict]]) -> Path:
    """A dataset directory like the build's: parquet shards under data/ and a card naming them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (out / "data").mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        pq.write_table(pa.Table.from_pylist(rows), out / "data" / f"{split}-00000.parquet")
    meta = card_metadata({"default": {s: f"data/{s}-*.parquet" for s in splits}})
    (out / "README.md").write_text(render_card(meta, "test dataset", []), encoding="utf-8")
    return out


def stage1_document(i: int, text: str) -> dict:
    """A stage-1 document record (id, text, source, provenance, transforms, meta)."""
    return {
        "id": f"books:doc{i}",
        "text": text,
        "source": "books",
        "provenance": {"file": "books/sample.md", "line": i + 1},
        "transforms": ["books.reader"],
        "meta": "{}",
    }


def instruction_record(i: int, messages: list[dict], task: str = "qa", task_id: int = 0, mc=None) -> dict:
    """A stage-2/3 record per schemas/instruction.schema.json."""
    return {
        "id": f"{task}:{i}",
        "source": task,
        "task": task,
        "task_id": task_id,
        "language": "en",
        "messages": messages,
        "mc": mc,
        "provenance": {"file": f"{task}.jsonl", "line": i + 1, "row": None, "pmid": None, "record_id": None},
        "meta": None,
    }


WORDS = [
    "patient",
    "insulin",
    "glucose",
    "therapy",
    "trial",
    "outcome",
    "risk",
    "blood",
    "pressure",
    "cancer",
    "cell",
    "dose",
    "infection",
]


def synthetic_pubmedqa(n: int, seed: int, answer: str | None = None) -> list[PubMedQAItem]:
    """PubMedQA-shaped items (question, abstract sections, decision) with random medical-ish words."""
    rng = random.Random(seed)
    items = []
    for i in range(n):
        contexts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))) + "." for _ in range(2)]
        question = "Does " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 8))) + " matter?"
        decision = answer or rng.choice(["yes", "no", "maybe"])
        items.append(
            PubMedQAItem(
                pmid=str(900000 + seed * 1000 + i), question=question, contexts=contexts, final_decision=decision
            )
        )
    return items


@pytest.fixture(scope="session")
def pt_dataset(tmp_path_factory) -> Path:
    """Stage-1 documents of a few repeated sentences: a tiny model learns them fast (loss falls clearly)."""
    sentences = [
        "The patient received insulin and the glucose level decreased.",
        "Aspirin therapy reduced the risk of heart failure in adults.",
        "Chronic infection was treated with an antibiotic for ten days.",
    ]
    docs = [stage1_document(i, " ".join(sentences[(i + j) % 3] for j in range(4))) for i in range(120)]
    docs.append(stage1_document(999, "   "))  # empty after strip: dropped and counted
    evals = [stage1_document(1000 + i, " ".join(sentences)) for i in range(8)]
    return write_dataset_dir(tmp_path_factory.mktemp("stage1"), {"train": docs, "validation": evals})


@pytest.fixture(scope="session")
def yes_sft_dataset(tmp_path_factory) -> Path:
    """Stage-3-format PubMedQA records whose gold answer is always "yes" (for the eval's known-preference test)."""
    from corpusforge.eval.mc_loglik import pubmedqa_record

    train = [pubmedqa_record(item, item.final_decision) for item in synthetic_pubmedqa(96, seed=1, answer="yes")]
    test = [pubmedqa_record(item, item.final_decision) for item in synthetic_pubmedqa(12, seed=2)]
    return write_dataset_dir(tmp_path_factory.mktemp("stage3-yes"), {"train": train, "test": test})


@pytest.fixture(scope="session")
def adapt_dataset(tmp_path_factory) -> Path:
    """Stage-3 multiple-choice records of three tasks (PubMedQA 0, MedQA-like 1, MedMCQA-like 2)."""
    from corpusforge.eval.mc_loglik import pubmedqa_record

    rows = [pubmedqa_record(item, item.final_decision, task_id=0) for item in synthetic_pubmedqa(24, seed=3)]
    rng = random.Random(4)
    for task, task_id, keys in (("medqa", 1, "ABCDE"), ("medmcqa", 2, "ABCD")):
        for i in range(24):
            options = [{"key": k, "text": " ".join(rng.choice(WORDS) for _ in range(2))} for k in keys]
            answer = rng.choice(keys)
            question = "Which " + " ".join(rng.choice(WORDS) for _ in range(6)) + "?"
            shown = " ".join(f"{o['key']}) {o['text']}" for o in options)
            messages = [
                {"role": "user", "content": f"QUESTION: {question}\n{shown}"},
                {"role": "assistant", "content": f"{answer}) {options[keys.index(answer)]['text']}"},
            ]
            mc = {"question": question, "context": None, "options": options, "answer": answer, "explanation": None}
            rows.append(instruction_record(i, messages, task, task_id, mc))
    rng.shuffle(rows)
    return write_dataset_dir(tmp_path_factory.mktemp("stage3"), {"train": rows[:60], "test": rows[60:]})


@pytest.fixture(scope="session")
def sft_dataset(tmp_path_factory) -> Path:
    """Stage-2 instruction records: free QA with a system turn and multi-turn chats, varied lengths."""
    rng = random.Random(5)
    rows = []
    for i in range(80):
        q = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 40)))
        a = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 30)))
        messages = [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
        if i % 4 == 0:
            messages = (
                [{"role": "system", "content": "Answer as a physician."}]
                + messages
                + [
                    {"role": "user", "content": "Why?"},
                    {"role": "assistant", "content": "Because " + a},
                ]
            )
        rows.append(instruction_record(i, messages))
    return write_dataset_dir(tmp_path_factory.mktemp("stage2"), {"train": rows, "validation": rows[:8]})


def make_config(tmp: Path, model_dir: Path, data_dir: Path, **sections) -> Path:
    """A small config for the tiny model; `sections` replace/extend the defaults section by section."""
    config = {
        "stage": "pt",
        "model": {"path": str(model_dir)},
        "data": {"path": str(data_dir), "max_length": 64},
        "method": {"name": "full"},
        "optimizer": {"lr": 3e-3, "weight_decay": 0.0},
        "schedule": {"kind": "constant"},
        "batch": {"global_size": 8, "micro_size": 4},
        "train": {"output_dir": str(tmp / "run"), "max_steps": 10, "log_every": 1, "export_dtype": "float32"},
        "runtime": {"accelerator": "cpu"},
        "deepspeed": str(REPO / "train" / "deepspeed" / "zero1.json"),
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    tmp.mkdir(parents=True, exist_ok=True)
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def launcher_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DS_ACCELERATOR="cpu",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        OMP_NUM_THREADS="1",
        PYTHONPATH=str(REPO),
    )
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    return env


LAUNCHED_PORTS: list[int] = []


@pytest.fixture(scope="session", autouse=True)
def unlink_killed_runs_shm_buffers():
    """A launch killed on purpose leaves DeepSpeed's ~70 MB all-reduce buffers in /dev/shm (its ranks never reached
    their clean exit, and no `corpusforge train` supervised them): remove them when the session ends."""
    yield
    from tests.train.conftest import LAUNCHED_PORTS as launched  # the module the tests import, not pytest's copy
    from train.runtime import remove_shm_buffers

    for port in launched:
        remove_shm_buffers(port)


def launch(config: Path, processes: int = 1, overrides: list[str] | None = None, wait: bool = True):
    """Run train/run.py through the DeepSpeed launcher, as a user would; a finished run leaves nothing in /dev/shm."""
    from train.runtime import free_port, shm_buffers

    port = free_port()
    LAUNCHED_PORTS.append(port)
    deepspeed = Path(sys.executable).parent / "deepspeed"
    cmd = [
        str(deepspeed),
        "--num_gpus",
        str(processes),
        "--master_port",
        str(port),
        str(REPO / "train" / "run.py"),
        "--config",
        str(config),
    ]
    for o in overrides or []:
        cmd += ["--set", o]
    if not wait:
        return subprocess.Popen(
            cmd,
            env=launcher_env(),
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    proc = subprocess.run(cmd, env=launcher_env(), cwd=REPO, capture_output=True, text=True, timeout=LAUNCHER_TIMEOUT)
    if proc.returncode != 0:
        raise AssertionError(f"launcher failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    assert shm_buffers(port) == [], "the ranks left their all-reduce buffers in /dev/shm"
    return proc


def read_metrics(run_dir: Path) -> list[dict]:
    path = run_dir / "metrics.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def train_losses(run_dir: Path) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in read_metrics(run_dir) if "loss" in m}


@pytest.fixture(scope="session")
def deepspeed_ops():
    """Compile DeepSpeed's CPU communication op once per session (about 35 s on a clean machine), before the
    launcher tests start processes that would otherwise each wait on the build."""
    env = launcher_env()
    code = "from deepspeed.ops.op_builder.cpu import ShareMemCommBuilder as B; B().load()"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, timeout=600)
