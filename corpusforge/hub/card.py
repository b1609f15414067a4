"""Merging a dataset card into the card already on the Hub, so several configs (stage 2, stage 3, one per source)
can live in one repository without overwriting each other's `configs` entries and sections.

Each pushed config owns its `configs` entries in the YAML header and one block of the card body, delimited by
`<!-- corpusforge:config NAME -->` ... `<!-- /corpusforge:config NAME -->`; a re-push replaces exactly those.
"""

from __future__ import annotations

import re
from typing import Any

import yaml


def split_card(text: str) -> tuple[dict[str, Any], str]:
    """(YAML metadata, markdown body) of a card."""
    if text.startswith("---\n"):
        header, sep, body = text[4:].partition("\n---\n")
        if sep:
            return yaml.safe_load(header) or {}, body.lstrip("\n")
    return {}, text


def join_card(metadata: dict[str, Any], body: str) -> str:
    header = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True)
    return f"---\n{header}---\n\n{body.strip()}\n"


def prefixed_configs(configs: list[dict[str, Any]], config_name: str, prefix: str) -> list[dict[str, Any]]:
    """The local card's configs renamed for the Hub (`NAME`, or `NAME-<local name>` when there are several) and
    their data files moved under `prefix`."""
    out = []
    for config in configs:
        name = config_name if len(configs) == 1 or config.get("default") else f"{config_name}-{config['config_name']}"
        files = [{**f, "path": _prefix_paths(f["path"], prefix)} for f in config.get("data_files", [])]
        out.append({"config_name": name, "data_files": files})
    return out


def _prefix_paths(path: str | list[str], prefix: str) -> str | list[str]:
    if isinstance(path, list):
        return [prefix + p for p in path]
    return prefix + path


def _block(name: str, body: str) -> str:
    return f"<!-- corpusforge:config {name} -->\n## Config `{name}`\n\n{body.strip()}\n<!-- /corpusforge:config {name} -->"


def merge_card(remote: str | None, local: str, config_name: str, prefix: str) -> str:
    """The card to upload when pushing `local` as config `config_name` (files under `prefix`) into a repo whose
    current card is `remote` (None when it has none)."""
    local_meta, local_body = split_card(local)
    remote_meta, remote_body = split_card(remote or "")
    ours = prefixed_configs(local_meta.get("configs", []), config_name, prefix)
    metadata = {**remote_meta, **{k: v for k, v in local_meta.items() if k != "configs"}}
    metadata["configs"] = _replace_configs(remote_meta.get("configs", []), ours, config_name)

    pattern = re.compile(
        rf"<!-- corpusforge:config {re.escape(config_name)} -->.*?<!-- /corpusforge:config {re.escape(config_name)} -->",
        re.DOTALL,
    )
    block = _block(config_name, _prefix_images(_strip_title(local_body), prefix))
    if pattern.search(remote_body):
        body = pattern.sub(lambda _: block, remote_body)
    elif remote_body.strip():
        body = remote_body.rstrip() + "\n\n" + block
    else:
        body = _title(local_body) + "\n\n" + block
    return join_card(metadata, body)


def _replace_configs(remote: list[dict], ours: list[dict], config_name: str) -> list[dict]:
    """Remote configs with this config's entries replaced in place (new ones appended); exactly one default."""
    mine = {c["config_name"] for c in ours}

    def is_mine(name: str) -> bool:
        return name in mine or name.startswith(f"{config_name}-")

    merged, placed = [], False
    for config in remote:
        if not is_mine(config["config_name"]):
            merged.append(config)
        elif not placed:
            merged += ours
            placed = True
    if not placed:
        merged += ours
    default = next((c["config_name"] for c in remote if c.get("default") and c["config_name"] in
                    {m["config_name"] for m in merged}), None)  # fmt: skip
    default = default or merged[0]["config_name"]
    return [{"config_name": c["config_name"], **({"default": True} if c["config_name"] == default else {}),
             "data_files": c["data_files"]} for c in merged]  # fmt: skip


def _prefix_images(body: str, prefix: str) -> str:
    """Relative image links of the local card point into the config's folder once pushed under `prefix`."""
    return re.sub(r"!\[([^\]]*)\]\((?![a-z]+:|/)([^)]+)\)", lambda m: f"![{m[1]}]({prefix}{m[2]})", body)


def _title(body: str) -> str:
    first = body.strip().splitlines()[0] if body.strip() else ""
    return first if first.startswith("# ") else "# Dataset"


def _strip_title(body: str) -> str:
    lines = body.strip().splitlines()
    rest = lines[1:] if lines and lines[0].startswith("# ") else lines
    return "\n".join(_demote(rest))


def _demote(lines: list[str]) -> list[str]:
    """Sections of the pushed card become subsections of its config block."""
    return ["#" + line if line.startswith("## ") else line for line in lines]
