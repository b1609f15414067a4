"""Fixtures of the report tests: a 200k-record build output made directly (cheaply), the shared builds reused."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

N_SOURCES = 20
PER_SOURCE = 10_000  # 200k kept records in all
DROP_REASONS = ("too_short", "too_long", "top_4_gram", "few_letters", "pqal_ngram")
QUARANTINE_REASONS = ("bad_json", "bad_encoding")
WORDS = "patient insulin glucose therapy trial outcome risk blood pressure cancer cell dose infection".split()


def _pool(rng: random.Random, n: int = 500) -> list[str]:
    """Texts to draw documents from: English and Chinese of many lengths, and a few very long ones."""
    texts = []
    for i in range(n):
        if i % 97 == 0:  # now and then a very long document: the page must cut it
            texts.append(" ".join(rng.choice(WORDS) for _ in range(6000)))
        elif i % 5 == 0:
            texts.append("".join(rng.choice("糖尿病患者胰岛素治疗血糖") for _ in range(rng.randint(20, 400))))
        else:
            texts.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 300))))
    return texts


def write_big_build(out: Path, seed: int = 0) -> Path:
    """A build output of 200k documents in 20 sources, with drops, quarantine and dropped samples of every reason,
    written the way `corpusforge build` lays it out (parquet shards, manifest, quarantine/, .corpusforge/)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from corpusforge.builder.document_schema import arrow_schema

    rng = random.Random(seed)
    pool = _pool(rng)
    (out / "data" / "train").mkdir(parents=True)
    sources = {}
    for s in range(N_SOURCES):
        name = f"source_{s:02d}"
        rows = [
            {
                "id": f"{name}:{i}",
                "text": pool[(i * 7 + s) % len(pool)],
                "source": name,
                "provenance": {
                    "file": f"raw/{name}.jsonl",
                    "line": i + 1,
                    "offset": None,
                    "element": None,
                    "pmid": None,
                    "record_id": None,
                },  # fmt: skip
                "transforms": ["read.jsonl", "filter.length"],
                "meta": "{}",
            }
            for i in range(PER_SOURCE)
        ]
        pq.write_table(pa.Table.from_pylist(rows, schema=arrow_schema()), out / "data" / "train" / f"{s:03d}.parquet")
        dropped = {r: rng.randint(50, 5000) for r in DROP_REASONS}
        quarantined = {r: 300 for r in QUARANTINE_REASONS}
        q = sum(quarantined.values())
        n_in = PER_SOURCE + sum(dropped.values()) + q
        sources[name] = {
            "input": n_in, "kept": PER_SOURCE, "dropped": dropped, "quarantined": q,
            "quarantined_by_reason": quarantined, "balanced": True, "rows": PER_SOURCE,
            "balance": f"{n_in} records = {PER_SOURCE} kept + {sum(dropped.values())} dropped + {q} quarantined [ok]",
            "segments": [{"unit": "records", "input": n_in, "quarantined": q, "dropped": dropped,
                          "output": PER_SOURCE, "balanced": True}],
            "details": {},
        }  # fmt: skip
        qdir = out / "quarantine" / name
        qdir.mkdir(parents=True)
        with open(qdir / "00000.jsonl", "w", encoding="utf-8") as f:
            for reason, n in quarantined.items():
                for i in range(n):
                    raw = '{"id": ' + str(i) + ', "text": "' + "x" * 3000  # long, broken raw input
                    f.write(json.dumps({"source": name, "reader": "read.jsonl", "reason": reason,
                                        "location": {"file": f"raw/{name}.jsonl", "line": 10_000 + i},
                                        "error": "invalid JSON", "raw": raw, "raw_encoding": "text"}) + "\n")  # fmt: skip
        ddir = out / ".corpusforge" / "dropped_samples" / name
        ddir.mkdir(parents=True)
        with open(ddir / "00000-filter.length.jsonl", "w", encoding="utf-8") as f:
            for reason in DROP_REASONS:
                for i in range(20):
                    f.write(json.dumps({"source": name, "step": "filter.length", "reason": reason,
                                        "id": f"{name}:d{i}", "text": pool[i][:2000], "chars": 2000,
                                        "location": {"file": f"raw/{name}.jsonl", "line": 20_000 + i}}) + "\n")  # fmt: skip
    totals = {
        "input": sum(s["input"] for s in sources.values()),
        "kept": N_SOURCES * PER_SOURCE,
        "dropped": sum(sum(s["dropped"].values()) for s in sources.values()),
        "quarantined": sum(s["quarantined"] for s in sources.values()),
    }
    by_reason = {r: sum(s["dropped"][r] for s in sources.values()) for r in DROP_REASONS}
    manifest = {
        "corpusforge_version": "0.1.0", "recipe": "big", "kind": "pretrain", "status": "ok",
        "built_at": "2026-01-01T00:00:00+00:00", "totals": totals, "rows_written": totals["kept"],
        "sources": sources, "dropped_by_reason": by_reason,
        "deduplication": {"exact_duplicate": 0, "near_duplicate": 0}, "decontamination": {"pqal_ngram": by_reason["pqal_ngram"]},
        "files": [{"path": f"data/train/{s:03d}.parquet", "split": "train", "rows": PER_SOURCE} for s in range(N_SOURCES)],
        "quarantine_files": [f"quarantine/source_{s:02d}/00000.jsonl" for s in range(N_SOURCES)], "tokenized": None,
    }  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return out


@pytest.fixture(scope="session")
def big_build(tmp_path_factory) -> Path:
    return write_big_build(tmp_path_factory.mktemp("big-build") / "out")
