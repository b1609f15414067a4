"""Bad input through a whole label run (transformers backend, tiny model): what cannot be encoded never reaches a
prompt, a cache key or the output; it is quarantined with its location and raw text, and the counts add up."""

from __future__ import annotations

import json

from corpusforge.label.job import run_label_job
from tests.label.conftest import (
    PQAU_SAMPLE,
    assert_valid_records,
    make_job,
    read_records,
    transformers_backend,  # noqa: F401  (the session fixture, used by name)
)


def test_lone_surrogates_and_booleans_are_quarantined_and_the_label_run_finishes(
    tiny_model_dir,
    transformers_backend,  # noqa: F811
    tmp_path,
):
    items = dict(list(json.loads(PQAU_SAMPLE.read_text()).items())[:3])
    bad_question = {**next(iter(items.values())), "QUESTION": "Half an emoji \ud83d here?"}
    bad_year = {**next(iter(items.values())), "YEAR": True}
    text = json.dumps(items)[:-1] + ', "991": ' + json.dumps(bad_question) + ', "992": ' + json.dumps(bad_year) + "}"
    path = tmp_path / "ori_pqau.json"
    path.write_text(text)  # compact, one line, as json.dump writes it: the keyed layout all the same
    job = make_job(tiny_model_dir, tmp_path / "out", "long-answer", input={"path": str(path)})
    summary = run_label_job(job, backend=transformers_backend).summary
    assert (summary["input_records"], summary["quarantined"]) == (5, 2)
    assert summary["labeled"] + summary["unlabeled"] == 3
    records = read_records(tmp_path / "out")
    assert len(records) == 3
    assert_valid_records(records)
    lines = (tmp_path / "out" / "quarantine" / "pqa-u" / "rejected.jsonl").read_bytes().decode("utf-8").splitlines()
    rejected = {json.loads(line)["location"].rsplit(" ", 1)[1]: json.loads(line) for line in lines}
    assert set(rejected) == {"991", "992"}
    assert "U+D83D" in rejected["991"]["detail"] and "\\ud83d" in rejected["991"]["raw"]["QUESTION"]  # as text
    assert "YEAR" in rejected["992"]["detail"]
