"""`corpusforge push` against a fake Hub on 127.0.0.1: round trip, idempotence, configs, visibility, no token leaks.

Pushes run in subprocesses with the environment a user would have (HF_ENDPOINT, HF_TOKEN, HF_HOME), because
huggingface_hub and datasets read their endpoint and offline mode when imported.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from corpusforge.errors import ConfigError
from corpusforge.hub.card import merge_card, split_card
from corpusforge.hub.token import redact, resolve_token
from tests.hub.conftest import TOKEN
from tests.instruct.helpers import write_dataset_dir

CLI = "from corpusforge.cli import main; main()"


def python(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def run(cli_args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """`corpusforge ARGS` in a fresh interpreter."""
    return python(["-c", CLI, *cli_args], env, cwd)


LOAD_BACK = """
import json, sys, datasets
ds = datasets.load_dataset(sys.argv[1], *sys.argv[2:])
print("ROWS=" + json.dumps({split: ds[split].to_list() for split in ds}, ensure_ascii=False))
"""


def load_back(repo: str, env: dict[str, str], cwd: Path, *config: str) -> subprocess.CompletedProcess:
    """`datasets.load_dataset(repo[, config])` in a fresh interpreter; rows printed as JSON."""
    return python(["-c", LOAD_BACK, repo, *config], env, cwd)


def loaded_rows(proc: subprocess.CompletedProcess) -> dict[str, list[dict]]:
    line = next(line for line in proc.stdout.splitlines() if line.startswith("ROWS="))
    return json.loads(line[len("ROWS=") :])


def local_rows(dataset_dir: Path) -> dict[str, list[dict]]:
    return {
        split.name: [r for f in sorted(split.glob("*.parquet")) for r in pq.read_table(f).to_pylist()]
        for split in sorted((dataset_dir / "data").iterdir())
    }


def files_containing(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.slow
def test_push_roundtrip_is_idempotent_and_never_leaks_the_token(fake_hub, hub_env, sample_records, tmp_path):
    dataset = write_dataset_dir(tmp_path / "built", {"train": sample_records[:5], "validation": sample_records[5:]})
    repo = "tester/medical-instructions"

    first = run(["push", str(dataset), repo, "--private"], hub_env, tmp_path)
    assert "pushed" in first.stdout
    commits_after_first = len(fake_hub.commits(repo))
    assert fake_hub.repos[repo].private is True
    hub_files = fake_hub.files(repo)
    assert {"README.md", "manifest.json", "data/train/00000.parquet", "data/validation/00000.parquet"} <= set(
        hub_files
    )
    assert not any(p.startswith(("quarantine/", ".corpusforge/")) for p in hub_files)
    assert hub_files["data/train/00000.parquet"] == (dataset / "data/train/00000.parquet").read_bytes()

    again = run(["push", str(dataset), repo], hub_env, tmp_path)
    assert "already up to date" in " ".join(again.stdout.split())
    assert len(fake_hub.commits(repo)) == commits_after_first  # nothing committed the second time

    proc = load_back(repo, hub_env, tmp_path)
    assert loaded_rows(proc) == local_rows(dataset)

    changed = write_dataset_dir(tmp_path / "v2", {"train": sample_records[:6], "validation": sample_records[6:]})
    branch = run(["push", str(changed), repo, "--revision", "v2"], hub_env, tmp_path)  # a branch of its own
    on_branch = fake_hub.files(repo, "v2")
    assert on_branch["data/train/00000.parquet"] == (changed / "data/train/00000.parquet").read_bytes()
    assert fake_hub.files(repo)["data/train/00000.parquet"] == hub_files["data/train/00000.parquet"]  # main as it was
    assert len(fake_hub.commits(repo)) == commits_after_first

    # the token: in no output, log, card, written file or cache (HF_HOME), on disk or on the Hub
    outputs = "".join(p.stdout + p.stderr for p in (first, again, proc, branch))
    assert "debug" in hub_env["HF_HUB_VERBOSITY"] and TOKEN not in outputs
    assert files_containing(tmp_path, TOKEN.encode()) == []
    assert all(TOKEN.encode() not in content for content in fake_hub.files(repo).values())


@pytest.mark.slow
def test_configs_share_a_repo_and_visibility_and_stale_shards(fake_hub, hub_env, sample_records, tmp_path):
    stage2 = write_dataset_dir(tmp_path / "stage2", {"train": sample_records[:4], "validation": sample_records[4:5]})
    stage3 = write_dataset_dir(tmp_path / "stage3", {"train": sample_records[5:], "test": sample_records[:2]})
    repo = "tester/medical"
    token_file = tmp_path / "token.txt"
    token_file.write_text(TOKEN + "\n")
    env = {k: v for k, v in hub_env.items() if k != "HF_TOKEN"}  # the token comes from --token-file only

    run(["push", str(stage2), repo, "--config-name", "stage2", "--token-file", str(token_file)], env, tmp_path)
    assert fake_hub.repos[repo].private is True  # new repos are private unless --public
    run(
        ["push", str(stage3), repo, "--config-name", "stage3", "--public", "--token-file", str(token_file)],
        env,
        tmp_path,
    )
    assert fake_hub.repos[repo].private is False

    card_meta, card_body = split_card(fake_hub.files(repo)["README.md"].decode())
    configs = {c["config_name"]: c for c in card_meta["configs"]}
    assert set(configs) == {"stage2", "stage3"}
    assert configs["stage2"].get("default") is True and not configs["stage3"].get("default")
    assert {f["path"] for f in configs["stage3"]["data_files"]} == {
        "stage3/data/train/*.parquet",
        "stage3/data/test/*.parquet",
    }
    assert "## Config `stage2`" in card_body and "## Config `stage3`" in card_body

    # a rebuild of stage 2 without its validation split: the stale shard goes, stage 3 is untouched
    shutil.rmtree(stage2)
    write_dataset_dir(stage2, {"train": sample_records[:4]})
    run(["push", str(stage2), repo, "--config-name", "stage2", "--token-file", str(token_file)], env, tmp_path)
    files = set(fake_hub.files(repo))
    assert "stage2/data/validation/00000.parquet" not in files
    assert {
        "stage2/data/train/00000.parquet",
        "stage3/data/train/00000.parquet",
        "stage3/data/test/00000.parquet",
    } <= files

    proc = load_back(repo, hub_env, tmp_path, "stage3")
    assert loaded_rows(proc) == local_rows(stage3)
    assert files_containing(tmp_path, TOKEN.encode()) == [token_file]


def test_token_sources_and_errors_never_show_it(tmp_path, monkeypatch):
    token_file = tmp_path / "tok"
    token_file.write_text(f"  {TOKEN}  \nsecond line\n")
    assert resolve_token(token_file) == TOKEN
    monkeypatch.setenv("HF_TOKEN", "hf_fromEnvironment")
    assert resolve_token() == "hf_fromEnvironment"
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError, match="empty"):
        resolve_token(tmp_path / "empty")
    with pytest.raises(ConfigError, match="not found"):
        resolve_token(tmp_path / "missing")
    assert redact(f"401 for url with Bearer {TOKEN}", TOKEN) == "401 for url with Bearer ***"


def test_merge_card_replaces_only_its_own_config():
    local = "---\nconfigs:\n- config_name: default\n  default: true\n  data_files:\n  - split: train\n    path: data/train/*.parquet\n---\n\n# Title\n\n## Summary\n\nv1\n"
    first = merge_card(None, local, "stage2", "stage2/")
    second = merge_card(first, local.replace("v1", "other"), "stage3", "stage3/")
    third = merge_card(second, local.replace("v1", "v2"), "stage2", "stage2/")
    meta, body = split_card(third)
    assert [c["config_name"] for c in meta["configs"]] == ["stage2", "stage3"]
    assert "v2" in body and "v1" not in body and "other" in body
    assert body.count("<!-- corpusforge:config stage2 -->") == 1
    assert "### Summary" in body
