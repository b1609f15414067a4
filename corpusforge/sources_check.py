"""Is a model or dataset named by a user there? A local path, or a Hub id that is cached or on the Hub.

Used before anything slow starts (training, labelling with a local engine), so that a typo is one line naming
the key and the value, not a 100-line traceback after the start-up. A Hub id is looked up in the local Hub
cache first; only when it is not there is the Hub asked (unless HF_HUB_OFFLINE is set), so an offline machine
with a warm cache passes and an unreachable Hub is reported now.
"""

from __future__ import annotations

import os
from pathlib import Path

from corpusforge.errors import first_line, hub_endpoint, is_network_error


def where(value: str) -> str:
    """How a relative path was resolved, for messages."""
    return "" if Path(value).expanduser().is_absolute() else f" (relative to the working directory {os.getcwd()})"


def model_problems(key: str, value: str, needs: str) -> list[str]:
    local = Path(value).expanduser()
    if local.is_dir():
        if needs == "config.json" and not (local / "config.json").is_file():
            return [
                f"{key}: {value} has no config.json: not a Hugging Face model directory (save_pretrained writes one)"
            ]
        if needs == "tokenizer" and not any(
            (local / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")
        ):
            return [f"{key}: {value} has no tokenizer.json or tokenizer_config.json"]
        return []
    if local.exists():
        return [f"{key}: {value} is a file; give a model directory (with config.json) or a Hub model id"]
    return hub_problems(key, value, "model", "a local model directory")


def hub_problems(key: str, value: str, repo_type: str, local_kind: str) -> list[str]:
    """A value that is not a local path: fine if it is a Hub id that is cached or exists on the Hub."""
    from huggingface_hub import constants
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    not_local = f"{key}: {value} is not a local path{where(value)}"
    try:
        validate_repo_id(value)
    except HFValidationError:
        return [f"{not_local}; give {local_kind} or a Hub {repo_type} id"]
    cache = Path(constants.HF_HUB_CACHE) / f"{repo_type}s--{value.replace('/', '--')}"
    if cache.is_dir():
        return []
    if constants.HF_HUB_OFFLINE:
        return [
            f"{not_local} nor in the Hub cache, and HF_HUB_OFFLINE is set; give {local_kind}, or download it first"
        ]
    from huggingface_hub import HfApi

    try:
        exists = HfApi().repo_exists(value, repo_type=repo_type)
    except Exception as e:
        if not is_network_error(e) and "OfflineModeIsEnabled" not in type(e).__name__:
            raise
        return [f"{not_local}, and the Hub ({hub_endpoint()}) cannot be reached to look it up ({first_line(e)})"]
    if not exists:
        return [f"{not_local} nor a {repo_type} on the Hub; give {local_kind} (or check the id and HF_TOKEN)"]
    return []
