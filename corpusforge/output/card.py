"""Dataset cards: YAML metadata the Hub and `datasets` understand, then a readable report.

The `configs` block maps each config and split to its parquet files, which is what makes
`datasets.load_dataset(OUTPUT_DIR)` (and the Hub viewer) load the data shards and nothing else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, PackageLoader, StrictUndefined

DEFAULT_TEMPLATE = "dataset_card.md.jinja"


def card_metadata(
    configs: dict[str, dict[str, str | list[str]]],
    *,
    output_dir: str | Path | None = None,
    license: str | None = None,
    license_name: str | None = None,
    language: list[str] | None = None,
    tags: list[str] | None = None,
    task_categories: list[str] | None = None,
    pretty_name: str | None = None,
) -> dict[str, Any]:
    """The YAML header: `configs` is {config_name: {split: glob or list of paths}}.

    Give `output_dir` (the dataset's root) to also describe the data (`dataset_info`: features, rows and bytes per
    split). Do: `datasets` caches a local dataset under its folder name and card configs without looking at the
    files, so without it two builds into folders of the same name (or a rebuild) can load each other's cached data.
    """
    meta: dict[str, Any] = {}
    if pretty_name:
        meta["pretty_name"] = pretty_name
    if license:
        meta["license"] = license
    if license_name:  # with `license: other`: the Hub shows this name
        meta["license_name"] = license_name
    if language:
        meta["language"] = language
    if task_categories:
        meta["task_categories"] = task_categories
    if tags:
        meta["tags"] = tags
    if output_dir is not None:
        meta["dataset_info"] = [dataset_info(Path(output_dir), name, splits) for name, splits in configs.items()]
    meta["configs"] = [
        {
            "config_name": name,
            **({"default": True} if i == 0 else {}),
            "data_files": [{"split": split, "path": path} for split, path in splits.items()],
        }
        for i, (name, splits) in enumerate(configs.items())
    ]
    return meta


def dataset_info(output_dir: Path, config_name: str, splits: dict[str, str | list[str]]) -> dict[str, Any]:
    """The card's `dataset_info` of one config, read from its parquet files (schema, rows, bytes).

    As the Hub and `datasets` write it: a split's `num_bytes` and the `dataset_size` are the data's uncompressed
    size as Arrow tables (what loading it takes), `download_size` the size of the parquet files (what fetching it
    takes). The Arrow size is measured one row group at a time, so memory stays bounded."""
    import pyarrow.parquet as pq

    split_infos = []
    features = None
    download_size = dataset_size = 0
    for split, patterns in splits.items():
        files = sorted({p for pattern in _as_list(patterns) for p in output_dir.glob(pattern)})
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        download_size += sum(f.stat().st_size for f in files)
        num_bytes = sum(arrow_bytes(f) for f in files)
        dataset_size += num_bytes
        split_infos.append({"name": split, "num_bytes": num_bytes, "num_examples": rows})
        if features is None and files:
            features = features_yaml(pq.read_schema(files[0]))
    info: dict[str, Any] = {"features": features} if features else {}
    info.update(config_name=config_name, splits=split_infos, download_size=download_size, dataset_size=dataset_size)
    return info


def arrow_bytes(path: Path) -> int:
    """The uncompressed size of a parquet file's data as Arrow tables, row group by row group."""
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    return sum(pf.read_row_group(i).nbytes for i in range(pf.num_row_groups))


_ARROW_DTYPES = {"string": "string", "large_string": "large_string", "int64": "int64", "int32": "int32",
                 "double": "float64", "float": "float32", "bool": "bool", "null": "null"}  # fmt: skip


def features_yaml(schema) -> list[dict[str, Any]]:
    """An Arrow schema as the `features` YAML of a dataset card, the way `datasets` writes it.

    Written out here because importing `datasets` costs ~2 s on every build; tests check it against
    `datasets.Features.from_arrow_schema(schema)._to_yaml_list()`.
    """
    return [{"name": field.name, **_feature_yaml(field.type)} for field in schema]


def _feature_yaml(arrow_type) -> dict[str, Any]:
    import pyarrow as pa

    if pa.types.is_struct(arrow_type):
        return {"struct": [{"name": f.name, **_feature_yaml(f.type)} for f in arrow_type]}
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        key = "list" if pa.types.is_list(arrow_type) else "large_list"
        inner = _feature_yaml(arrow_type.value_type)
        if list(inner) == ["dtype"]:
            return {key: inner["dtype"]}
        if list(inner) == ["struct"]:
            return {key: inner["struct"]}
        return {key: inner}
    name = str(arrow_type)
    if name not in _ARROW_DTYPES:
        raise TypeError(f"no dataset-card feature for Arrow type {name}")
    return {"dtype": _ARROW_DTYPES[name]}


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_card(metadata: dict[str, Any], title: str, sections: list[tuple[str, str]], intro: str = "") -> str:
    """YAML front matter + `# title` + intro + one `## heading` per (heading, markdown body) section."""
    env = Environment(loader=PackageLoader("corpusforge", "templates"), undefined=StrictUndefined)
    body = env.get_template(DEFAULT_TEMPLATE).render(title=title, intro=intro, sections=sections)
    header = yaml.safe_dump(metadata, sort_keys=False, allow_unicode=True)
    return f"---\n{header}---\n\n{body.strip()}\n"


def read_card_metadata(path: str | Path) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return {}
    header, _, _ = text[4:].partition("\n---")
    return yaml.safe_load(header) or {}
