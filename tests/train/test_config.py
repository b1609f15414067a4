"""The training config: strict keys with dotted paths, overrides, the presets' paper settings, DeepSpeed JSON."""

from __future__ import annotations

import json

import pytest
import yaml

from corpusforge.errors import ConfigError
from tests.train.conftest import REPO
from train.config import load_train_config, resolved_deepspeed_config
from train.schedule import lr_multiplier

PRESETS = sorted((REPO / "train" / "configs").glob("*.yaml"))


def write(tmp_path, data) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def base(tmp_path) -> dict:
    return yaml.safe_load((REPO / "train" / "configs" / "stage3_lora.yaml").read_text()) | {
        "deepspeed": str(REPO / "train" / "deepspeed" / "zero2.json")
    }


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_presets_validate(preset):
    config = load_train_config(preset)
    assert config.deepspeed.endswith(".json")


def test_presets_carry_the_papers_settings():
    load = {p.stem: load_train_config(p) for p in PRESETS}
    s1 = load["stage1_pt"]
    assert (s1.optimizer.lr, s1.optimizer.betas, s1.optimizer.weight_decay, s1.optimizer.grad_clip) == (
        7e-6,
        (0.9, 0.95),
        0.1,
        1.0,
    )
    assert (s1.schedule.kind, s1.schedule.min_lr_ratio, s1.batch.global_size) == ("cosine", 0.1, 256)
    s2 = load["stage2_sft"]
    assert (s2.optimizer.lr, s2.optimizer.weight_decay, s2.batch.global_size, s2.schedule.kind) == (
        6e-6,
        0.1,
        360,
        "cosine",
    )
    for name in ("stage3_lora", "stage3_cpoly"):
        s3 = load[name]
        assert (s3.train.epochs, s3.batch.global_size, s3.optimizer.lr, s3.schedule.kind) == (10, 12, 5e-5, "linear")
        assert (s3.optimizer.weight_decay, s3.schedule.warmup_ratio) == (0.01, 0.06)
    assert load["stage3_lora"].method.r == 8
    assert (load["stage3_cpoly"].method.n_skills, load["stage3_cpoly"].method.r) == (4, 4)
    mka, da = load["medcare_mka"], load["medcare_da"]
    for c in (mka, da):
        assert (c.batch.global_size, c.optimizer.lr, c.schedule.warmup_ratio, c.data.max_length) == (
            128,
            2e-4,
            0.03,
            3072,
        )
    assert (mka.train.epochs, da.train.epochs, da.method.orth_lambda) == (1, 3, 1.0)
    assert (mka.method.r, mka.method.alpha, mka.method.shared_experts, mka.method.n_experts, mka.method.top_k) == (
        16,
        32,
        2,
        8,
        2,
    )


def test_unknown_keys_are_rejected_with_their_path(tmp_path):
    data = base(tmp_path)
    data["optimizer"]["learning_rate"] = 1e-4
    data["method"]["rank"] = 4
    with pytest.raises(ConfigError) as err:
        load_train_config(write(tmp_path, data))
    assert "optimizer.learning_rate: unknown key" in str(err.value)
    assert "method.lora.rank: unknown key" in str(err.value)


def test_overrides_are_validated_like_the_file(tmp_path):
    path = write(tmp_path, base(tmp_path))
    assert load_train_config(path, ["method.r=4", "batch.global_size=24"]).method.r == 4
    with pytest.raises(ConfigError, match="method.lora.r"):
        load_train_config(path, ["method.r=zero"])
    with pytest.raises(ConfigError, match="method: unknown type 'qlora'; valid choices"):
        load_train_config(path, ["method.name=qlora"])


def test_cpoly_needs_single_example_rows(tmp_path):
    data = yaml.safe_load((REPO / "train" / "configs" / "stage3_cpoly.yaml").read_text())
    data["data"]["packing"] = True
    data["deepspeed"] = str(REPO / "train" / "deepspeed" / "zero2.json")
    with pytest.raises(ConfigError, match="packing"):
        load_train_config(write(tmp_path, data))


def test_deepspeed_json_is_passed_through_with_owned_keys_filled(tmp_path, monkeypatch):
    ds = {
        "zero_optimization": {"stage": 3, "stage3_param_persistence_threshold": 123},
        "bf16": {"enabled": True},
        "train_micro_batch_size_per_gpu": "auto",
    }
    (tmp_path / "ds.json").write_text(json.dumps(ds))
    monkeypatch.chdir(tmp_path)
    data = base(tmp_path) | {"deepspeed": "ds.json"}  # relative to the working directory, like every path
    resolved = resolved_deepspeed_config(load_train_config(write(tmp_path, data)), world_size=2)
    assert resolved["zero_optimization"] == ds["zero_optimization"] and resolved["bf16"] == {"enabled": True}
    assert (resolved["train_batch_size"], resolved["train_micro_batch_size_per_gpu"]) == (12, 3)
    assert resolved["gradient_accumulation_steps"] == 2 and resolved["gradient_clipping"] == 1.0


def test_a_relative_deepspeed_path_is_relative_to_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "ds.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as err:
        load_train_config(write(tmp_path / "configs", base(tmp_path) | {"deepspeed": "ds.json"}))
    assert str(err.value).startswith("deepspeed: ds.json: file not found in ")
    assert "use configs/ds.json" in str(err.value)
    config = load_train_config(write(tmp_path / "configs", base(tmp_path) | {"deepspeed": "configs/ds.json"}))
    assert config.deepspeed == str(tmp_path / "configs" / "ds.json")


def test_deepspeed_json_may_not_contradict_the_yaml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ds.json").write_text(json.dumps({"train_batch_size": 64, "optimizer": {"type": "Adam"}}))
    config = load_train_config(write(tmp_path, base(tmp_path) | {"deepspeed": "ds.json"}))
    with pytest.raises(ConfigError) as err:
        resolved_deepspeed_config(config, 1)
    assert "train_batch_size" in str(err.value) and "optimizer" in str(err.value)
    with pytest.raises(ConfigError, match="multiple of"):
        resolved_deepspeed_config(load_train_config(write(tmp_path, base(tmp_path))), 5)


def test_cosine_schedule_warms_up_and_ends_at_the_floor():
    lrs = [lr_multiplier(s, 100, 10, "cosine", 0.1) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1, abs=1e-3) and all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
    linear = [lr_multiplier(s, 100, 6, "linear", 0.0) for s in range(101)]
    assert linear[50] == pytest.approx(1 - 44 / 94) and linear[100] == 0.0
