"""`corpusforge build RECIPE --push REPO`: the stage-1 recipe built and published in one command, loaded back."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.hub.conftest import TOKEN


@pytest.mark.slow
def test_build_then_push_loads_back_from_the_hub(tmp_path, hub_env, repo_root, fake_hub):
    out = tmp_path / "stage1"
    cmd = [sys.executable, "-c", "from corpusforge.cli import main; main()", "build", "recipes/stage1.yaml",
           "--output", str(out), "--set", "executor.workers=1", "--push", "med/stage1", "--private"]  # fmt: skip
    result = subprocess.run(cmd, cwd=repo_root, env=hub_env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "med/stage1" in result.stdout
    assert TOKEN not in result.stdout + result.stderr

    load = (
        "import json, sys; from datasets import load_dataset; "
        "ds = load_dataset('med/stage1', split='train'); print(json.dumps(sorted(ds['id'])))"
    )
    loaded = subprocess.run([sys.executable, "-c", load], env=hub_env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    import json

    import pyarrow.parquet as pq

    local = sorted(i for p in sorted((out / "data").rglob("*.parquet")) for i in pq.read_table(p)["id"].to_pylist())
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) == local
    # the card's plots go up with it (the card links them relatively); the HTML report stays local
    files = fake_hub.files("med/stage1")
    for image in ("images/funnel.png", "images/lengths.png"):
        assert files[image] == (out / image).read_bytes() and f"]({image})" in files["README.md"].decode()
    assert "report.html" not in files and (out / "report.html").is_file()
