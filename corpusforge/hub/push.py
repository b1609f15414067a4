"""`corpusforge push`: upload a built dataset directory to a Hugging Face dataset repository.

What is uploaded: the card (README.md), manifest.json, the parquet shards under data/ and the card's plots under
images/; never quarantine/
(raw malformed input) nor .corpusforge/ (build state). With a config name, the files go under `<config>/` and the
card is merged into the repository's card (see card.py), so stage 2, stage 3 or one config per source can share a
repository.

Idempotent: everything goes in one commit through huggingface_hub, which skips files whose content is already on
the Hub (the Hub's preupload answer carries their oid), so pushing the same directory twice makes no second
commit; shards that a rebuild no longer has are deleted in the same commit. The token is handed to
huggingface_hub and nothing else (see token.py).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from corpusforge.errors import ConfigError, InputError, first_line, hub_endpoint, is_network_error
from corpusforge.hub.card import merge_card
from corpusforge.hub.token import redact
from corpusforge.output.dataset_dir import CARD, DATA_DIR, IMAGES_DIR, MANIFEST

log = logging.getLogger(__name__)
REPO_TYPE = "dataset"
CONFIG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass
class PushResult:
    repo_id: str
    revision: str
    commit: str
    changed: bool
    uploaded: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    created_repo: bool = False

    @property
    def url(self) -> str:
        from huggingface_hub import constants

        return f"{constants.ENDPOINT}/datasets/{self.repo_id}"


def local_files(output_dir: Path) -> dict[str, Path]:
    """{path in the dataset dir: file} of what gets published; InputError when it is not a built dataset."""
    if not (output_dir / CARD).is_file():
        raise InputError(f"{output_dir}: no {CARD} (dataset card); is this the output directory of a build?")
    data = sorted((output_dir / DATA_DIR).rglob("*.parquet")) if (output_dir / DATA_DIR).is_dir() else []
    if not data:
        raise InputError(f"{output_dir}: no parquet files under {DATA_DIR}/; nothing to push")
    files = {p.relative_to(output_dir).as_posix(): p for p in data}
    if (output_dir / MANIFEST).is_file():
        files[MANIFEST] = output_dir / MANIFEST
    # the plots the card shows (written by the report); the HTML report itself stays local
    images = output_dir / IMAGES_DIR
    files.update({p.relative_to(output_dir).as_posix(): p for p in sorted(images.glob("*.png"))})
    return files


def check_repo_id(repo_id: str) -> None:
    """ConfigError naming the value when `repo_id` cannot be a Hub repository id (checked before any upload)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as e:
        raise ConfigError(
            f"repo id {repo_id!r} is not a valid Hub repository id ({first_line(e)}); "
            "use NAMESPACE/NAME, e.g. my-org/medical-instructions"
        ) from None


def _remote_card(api, repo_id: str, revision: str) -> str | None:
    from huggingface_hub.errors import EntryNotFoundError

    try:
        path = api.hf_hub_download(repo_id, CARD, repo_type=REPO_TYPE, revision=revision)
    except EntryNotFoundError:
        return None
    return Path(path).read_text(encoding="utf-8")


def push_dataset(
    output_dir: str | Path,
    repo_id: str,
    token: str,
    *,
    private: bool | None = None,
    config_name: str | None = None,
    revision: str | None = None,
    commit_message: str | None = None,
) -> PushResult:
    """Publish `output_dir` to the dataset repo `repo_id` (see the module docstring).

    `private`: None keeps an existing repo's visibility and creates new repos private; True/False set it.
    """
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    output_dir = Path(output_dir)
    check_repo_id(repo_id)
    files = local_files(output_dir)
    if config_name is not None and not CONFIG_NAME.match(config_name):
        raise ConfigError(f"--config-name {config_name!r}: use letters, digits, '-' and '_' (it names a folder)")
    prefix = f"{config_name}/" if config_name else ""
    revision = revision or "main"
    api = HfApi(token=token)
    try:
        created = not api.repo_exists(repo_id, repo_type=REPO_TYPE)
        if created:
            api.create_repo(repo_id, repo_type=REPO_TYPE, private=True if private is None else private, exist_ok=True)
            log.info("created dataset repo %s", repo_id)
        elif private is not None:
            api.update_repo_settings(repo_id, repo_type=REPO_TYPE, private=private)
        if revision != "main":
            api.create_branch(repo_id, repo_type=REPO_TYPE, branch=revision, exist_ok=True)
        before = api.repo_info(repo_id, repo_type=REPO_TYPE, revision=revision).sha

        card = (output_dir / CARD).read_text(encoding="utf-8")
        if config_name:
            card = merge_card(_remote_card(api, repo_id, revision), card, config_name, prefix)
        operations = [CommitOperationAdd(CARD, card.encode("utf-8"))]
        operations += [CommitOperationAdd(prefix + rel, str(path)) for rel, path in files.items() if rel != CARD]
        wanted = {op.path_in_repo for op in operations}
        remote = api.list_repo_files(repo_id, repo_type=REPO_TYPE, revision=revision)
        stale = sorted(
            p
            for p in remote
            if p.startswith((prefix + DATA_DIR + "/", prefix + IMAGES_DIR + "/")) and p not in wanted
        )
        operations += [CommitOperationDelete(p) for p in stale]

        message = commit_message or f"corpusforge push {output_dir.name}" + (
            f" as config {config_name}" if config_name else ""
        )
        info = api.create_commit(repo_id, operations, commit_message=message, repo_type=REPO_TYPE, revision=revision)
    except HfHubHTTPError as e:
        raise InputError(f"pushing to {repo_id} failed: {redact(first_line(e), token)}") from None
    except OfflineModeIsEnabled:
        raise ConfigError(f"pushing to {repo_id}: HF_HUB_OFFLINE is set; unset it to push") from None
    except Exception as e:
        if not is_network_error(e):
            raise
        raise InputError(
            f"pushing to {repo_id}: cannot reach the Hub at {hub_endpoint()} ({redact(first_line(e), token)}); "
            "check the network or HF_ENDPOINT, then rerun the same command (a push that did not happen is redone)"
        ) from None
    changed = info.oid != before
    uploaded = [op.path_in_repo for op in operations if isinstance(op, CommitOperationAdd) and not _unchanged(op)]
    log.info("%s: %s", repo_id, f"commit {info.oid}" if changed else "already up to date")
    return PushResult(repo_id, revision, info.oid, changed, uploaded if changed else [], stale, created)


def _unchanged(op) -> bool:
    return op._remote_oid is not None and op._remote_oid == op._local_oid
