"""The labeler end to end on the transformers backend (tiny random model): output, cache, templates, bad input."""

import json
import shutil

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from corpusforge.label.job import run_label_job
from corpusforge.label.prompts import BUILTIN_TEMPLATES
from corpusforge.llm.cache import RequestCache
from tests.label.conftest import PQAU_SAMPLE, assert_valid_records, make_job, read_records

STRATEGIES = ["long-answer", "voc", "cot", "ppl", "ensemble"]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_strategy_writes_a_loadable_dataset_of_valid_records(
    strategy, tiny_model_dir, transformers_backend, tmp_path
):
    from datasets import load_dataset

    job = make_job(tiny_model_dir, tmp_path / "out", strategy, run={"limit": 4})
    run = run_label_job(job, backend=transformers_backend)
    records = read_records(tmp_path / "out")
    assert [r["pmid"] for r in records] == list(json.loads(PQAU_SAMPLE.read_text()))[:4]
    assert_valid_records(records)
    s = run.summary
    assert s["input_records"] == 4 == s["labeled"] + s["unlabeled"] + s["quarantined"]
    assert sum(s["label_distribution"].values()) == s["labeled"]
    dataset = load_dataset(str(tmp_path / "out"), split="train")
    assert dataset.num_rows == 4 and dataset[0]["strategy"] == strategy
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["rows_written"] == 4 and manifest["summary"] == s
    card = (tmp_path / "out" / "README.md").read_text()
    assert "## Summary" in card and "items/s" in card
    steps = {st["step"] for m in records[0]["strategies"] for st in m["steps"]}
    expected = {"long-answer": {"answer"}, "voc": {"explain", "verify", "answer"}, "cot": {"reason", "answer"}}
    assert steps >= expected.get(strategy, set())
    if strategy == "voc":
        explained = [st["option"] for st in records[0]["strategies"][0]["steps"] if st["step"] == "explain"]
        assert explained == ["A", "B", "C"]
    if strategy == "ensemble":
        r = records[0]
        assert [m["strategy"] for m in r["strategies"]] == ["long-answer", "voc", "ppl"]
        assert sum(r["vote"].values()) == sum(m["label"] is not None for m in r["strategies"])
        agreeing = sum(m["label"] == r["label"] for m in r["strategies"])
        assert r["agreement"] == pytest.approx(agreeing / 3)


def test_garbage_answers_are_retried_under_constraint_then_recorded_unlabeled(
    tiny_model_dir, transformers_backend, tmp_path
):
    # free text first: the random model writes noise, which must not parse, never crash, and be kept
    job = make_job(tiny_model_dir, tmp_path / "free", "long-answer", answer={"constrained": False, "max_retries": 0})
    run = run_label_job(job, backend=transformers_backend)
    records = read_records(tmp_path / "free")
    assert_valid_records(records)
    unlabeled = [r for r in records if r["label"] is None]
    assert unlabeled, "a random model should write at least one unusable answer"
    assert all(
        r["unlabeled_reason"] in ("empty", "unparseable", "not_an_option") and r["raw_answer"] is not None
        for r in unlabeled
    )
    assert run.summary["unlabeled"] == len(unlabeled) == sum(run.summary["unlabeled_by_reason"].values())
    assert run.summary["parse_failures"]["long-answer"] >= len(unlabeled)
    # with constrained retries every one of them ends on an option, and the failed free-text try is kept
    job = make_job(tiny_model_dir, tmp_path / "retry", "long-answer", answer={"constrained": False, "max_retries": 1})
    run_label_job(job, backend=transformers_backend)
    retried = {r["pmid"]: r for r in read_records(tmp_path / "retry")}
    for record in unlabeled:
        again = retried[record["pmid"]]
        assert again["label"] in ("yes", "no", "maybe")
        answers = [s for s in again["strategies"][0]["steps"] if s["step"] == "answer"]
        assert [s["attempt"] for s in answers] == [0, 1] and answers[0]["text"] == record["raw_answer"]


def test_a_second_identical_run_is_served_from_the_cache(tiny_model_dir, transformers_backend, tmp_path):
    job = make_job(tiny_model_dir, tmp_path / "out", "voc", run={"limit": 3})
    first = run_label_job(job, backend=transformers_backend)
    assert first.summary["requests"]["cache_hits"] == 0
    sent = first.summary["requests"]["sent_to_backend"]
    assert sent == first.summary["requests"]["total"] == 3 * 5  # 3 explanations + verification + answer
    labels = [(r["label"], r["option_probs"], r["strategies"][0]["steps"]) for r in read_records(tmp_path / "out")]
    second = run_label_job(job, backend=transformers_backend)
    assert second.summary["requests"]["cache_hits"] == sent and second.summary["requests"]["sent_to_backend"] == 0
    records = read_records(tmp_path / "out")
    assert [(r["label"], r["option_probs"], r["strategies"][0]["steps"]) for r in records] == labels
    assert all(r["timings"]["cached_requests"] == r["timings"]["requests"] == 5 for r in records)
    assert "3 items to" not in (tmp_path / "out" / "README.md").read_text()
    assert "15 from the label cache" in (tmp_path / "out" / "README.md").read_text()


def test_the_template_hash_is_part_of_the_cache_key(tiny_model_dir, transformers_backend, tmp_path):
    cache = str(tmp_path / "shared.sqlite")
    job = make_job(tiny_model_dir, tmp_path / "a", "long-answer", run={"limit": 3, "cache": cache})
    first = run_label_job(job, backend=transformers_backend)
    # the same prompts rendered from an edited template (a jinja comment: the rendered text does not change)
    templates = tmp_path / "templates"
    shutil.copytree(BUILTIN_TEMPLATES, templates)
    path = templates / "long_answer.jinja"
    path.write_text(path.read_text() + "{# v2: reworded #}\n")
    edited = make_job(tiny_model_dir, tmp_path / "b", "long-answer", run={"limit": 3, "cache": cache},
                      task={"templates": str(templates)})  # fmt: skip
    second = run_label_job(edited, backend=transformers_backend)
    assert first.manifest["template_hashes"] != second.manifest["template_hashes"]
    assert second.summary["requests"]["cache_hits"] == 0 and second.summary["requests"]["sent_to_backend"] == 3
    a, b = read_records(tmp_path / "a"), read_records(tmp_path / "b")
    assert [r["label"] for r in a] == [r["label"] for r in b]  # same prompt text, same answers
    # an untouched template (an included one is hashed too) keeps the key: the unedited job hits the cache
    again = run_label_job(job, backend=transformers_backend)
    assert again.summary["requests"]["cache_hits"] == 3
    assert len(RequestCache(cache)) == 6


def test_malformed_input_records_are_quarantined_and_counted(tiny_model_dir, transformers_backend, tmp_path):
    data = json.loads(PQAU_SAMPLE.read_text())
    items = dict(list(data.items())[:3])
    items["999"] = {"CONTEXTS": ["no question here"], "LONG_ANSWER": "x"}
    items["998"] = {"QUESTION": "Is it?", "CONTEXTS": "not a list"}
    path = tmp_path / "ori_pqau.json"
    path.write_text(json.dumps(items))
    job = make_job(tiny_model_dir, tmp_path / "out", "long-answer", input={"path": str(path)})
    run = run_label_job(job, backend=transformers_backend)
    s = run.summary
    assert (s["input_records"], s["labeled"] + s["unlabeled"], s["quarantined"]) == (5, 3, 2)
    assert s["quarantined_by_reason"] == {"malformed_item": 2}
    lines = (tmp_path / "out" / "quarantine" / "pqa-u" / "rejected.jsonl").read_text().splitlines()
    kept = [json.loads(line) for line in lines]
    assert {k["location"].rsplit(" ", 1)[1] for k in kept} == {"999", "998"}
    assert kept[0]["raw"] == items["999"] and "QUESTION" in kept[0]["detail"]


def test_hub_parquet_layout_and_generic_jsonl_inputs(tiny_model_dir, transformers_backend, tmp_path):
    data = list(json.loads(PQAU_SAMPLE.read_text()).items())[:3]
    rows = [
        {
            "pubid": int(pmid),
            "question": e["QUESTION"],
            "long_answer": e["LONG_ANSWER"],
            "context": {"contexts": e["CONTEXTS"], "labels": e["LABELS"], "meshes": e["MESHES"]},
        }
        for pmid, e in data
    ]  # fmt: skip  (the pqa_unlabeled columns of qiaojin/PubMedQA)
    folder = tmp_path / "pqa_unlabeled"
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), folder / "train-00000-of-00001.parquet")
    job = make_job(tiny_model_dir, tmp_path / "hub", "long-answer", input={"path": str(folder)})
    run_label_job(job, backend=transformers_backend)
    original = make_job(tiny_model_dir, tmp_path / "ori", "long-answer", run={"limit": 3})
    run_label_job(original, backend=transformers_backend)
    from_hub, from_ori = read_records(tmp_path / "hub"), read_records(tmp_path / "ori")
    assert [r["pmid"] for r in from_hub] == [p for p, _ in data]
    assert [r["option_probs"] for r in from_hub] == [r["option_probs"] for r in from_ori]  # same prompts

    lines = [json.dumps({"qid": f"q{i}", "q": e["QUESTION"], "ctx": e["CONTEXTS"]}) for i, (_, e) in enumerate(data)]
    jsonl = tmp_path / "items.jsonl"
    jsonl.write_text("\n".join(lines + ["{not json", json.dumps({"qid": "q9"})]) + "\n")
    job = make_job(tiny_model_dir, tmp_path / "jsonl", "long-answer",
                   input={"path": str(jsonl), "format": "jsonl", "fields": {"id": "qid", "question": "q", "context": "ctx"}})  # fmt: skip
    run = run_label_job(job, backend=transformers_backend)
    assert [r["pmid"] for r in read_records(tmp_path / "jsonl")] == ["q0", "q1", "q2"]
    assert run.summary["quarantined_by_reason"] == {"bad_json": 1, "missing_field": 1}


def test_too_long_prompts_are_recorded_unlabeled(tiny_model_dir, tmp_path):
    job = make_job(tiny_model_dir, tmp_path / "out", "voc", run={"limit": 2},
                   backend={"type": "transformers", "max_model_len": 64})  # fmt: skip
    run = run_label_job(job)
    assert run.summary["unlabeled_by_reason"] == {"prompt_too_long": 2}
    records = read_records(tmp_path / "out")
    assert_valid_records(records)
    # rejected before any computation: an error, not tokens computed
    assert run.summary["requests"]["errors"] == {"prompt_too_long": 6}  # voc's three explanations per item
    assert run.summary["tokens"] == {
        "prompt": 0,
        "prompt_from_prefix_cache": 0,
        "prompt_computed": 0,
        "completion": 0,
    }
    assert all(r["timings"]["prompt_tokens"] == 0 for r in records)


def test_generation_is_batched_not_item_by_item(tiny_model_dir, transformers_backend, tmp_path, monkeypatch):
    calls = []
    original = transformers_backend.hf_model.generate

    def counting(*args, **kwargs):
        calls.append(kwargs["input_ids"].shape[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(transformers_backend.hf_model, "generate", counting)
    job = make_job(tiny_model_dir, tmp_path / "out", "voc", run={"limit": 6})
    run_label_job(job, backend=transformers_backend)
    # 18 explanations, 6 verifications, 6 answers in batches of at most 8
    assert sorted(calls) == sorted([8, 8, 2, 6, 6])


def test_a_folder_that_is_not_a_label_output_is_never_cleared(tiny_model_dir, transformers_backend, tmp_path):
    from corpusforge.errors import ConfigError

    other = tmp_path / "build-output"
    (other / "data").mkdir(parents=True)
    (other / "data" / "train-00000.parquet").write_bytes(b"precious")
    (other / "manifest.json").write_text(json.dumps({"kind": "stage1"}))
    job = make_job(tiny_model_dir, other, "long-answer", run={"limit": 1})
    with pytest.raises(ConfigError, match="not a label output"):
        run_label_job(job, backend=transformers_backend)
    assert (other / "data" / "train-00000.parquet").read_bytes() == b"precious"
