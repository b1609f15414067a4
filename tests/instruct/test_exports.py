"""LLaMA-Factory and axolotl exports of a built instruction dataset, through the CLI."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

import corpusforge.cli.export  # noqa: F401  (registers `export`; corpusforge/cli/__init__.py should import it)
from corpusforge.cli import app
from corpusforge.errors import InputError
from corpusforge.export import export_llamafactory
from tests.instruct.helpers import write_dataset_dir


def jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def dataset(tmp_path, sample_records):
    records = [dict(r) for r in sample_records]
    records[0] = {**records[0], "messages": [{"role": "system", "content": "Be brief."}, *records[0]["messages"]]}
    return write_dataset_dir(tmp_path / "built", {"train": records[:5], "validation": records[5:]}), records


def test_llamafactory_sharegpt_alpaca_and_dataset_info(dataset, tmp_path):
    built, records = dataset
    result = CliRunner().invoke(
        app, ["export", str(built), "--format", "llamafactory", "--out", str(tmp_path / "lf")]
    )
    assert result.exit_code == 0, result.output
    info = json.loads((tmp_path / "lf/dataset_info.json").read_text())
    assert set(info) == {"corpusforge_train", "corpusforge_train_alpaca", "corpusforge_validation",
                         "corpusforge_validation_alpaca"}  # fmt: skip
    assert info["corpusforge_train"]["formatting"] == "sharegpt"
    assert info["corpusforge_train"]["columns"] == {"messages": "conversations", "system": "system"}
    assert info["corpusforge_train_alpaca"]["columns"]["prompt"] == "instruction"

    sharegpt = jsonl(tmp_path / "lf" / info["corpusforge_train"]["file_name"])
    assert len(sharegpt) == 5
    assert sharegpt[0]["system"] == "Be brief."
    assert sharegpt[0]["conversations"] == [
        {"from": "human", "value": records[0]["messages"][1]["content"]},
        {"from": "gpt", "value": records[0]["messages"][2]["content"]},
    ]
    alpaca = jsonl(tmp_path / "lf" / info["corpusforge_validation_alpaca"]["file_name"])
    assert alpaca[0] == {
        "instruction": records[5]["messages"][0]["content"],
        "input": "",
        "output": records[5]["messages"][1]["content"],
        "system": "",
        "history": [],
    }
    # a second dataset exported into the same folder keeps the first one's entries
    export_llamafactory(built, tmp_path / "lf", name="stage3", layouts=("sharegpt",))
    assert {"corpusforge_train", "stage3_train"} <= set(json.loads((tmp_path / "lf/dataset_info.json").read_text()))


def test_axolotl_chat_template_files_and_config(dataset, tmp_path):
    built, records = dataset
    result = CliRunner().invoke(app, ["export", str(built), "-f", "axolotl", "-o", str(tmp_path / "ax")])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((tmp_path / "ax/axolotl_datasets.yaml").read_text())
    (train,) = config["datasets"]
    assert train["type"] == "chat_template" and train["field_messages"] == "messages"
    assert train["ds_type"] == "json" and train["roles_to_train"] == ["assistant"]
    rows = jsonl(tmp_path / "ax" / "corpusforge_train.jsonl")
    assert train["path"] == str((tmp_path / "ax" / "corpusforge_train.jsonl").resolve())
    assert [r["messages"] for r in rows] == [r["messages"] for r in records[:5]]
    assert [r["task_id"] for r in rows] == [r["task_id"] for r in records[:5]]
    assert config["test_datasets"][0]["path"].endswith("corpusforge_validation.jsonl")


def test_export_refuses_what_is_not_an_instruction_dataset(tmp_path):
    with pytest.raises(InputError, match="no data"):
        export_llamafactory(tmp_path, tmp_path / "out")
