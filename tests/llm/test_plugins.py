"""Steps that are not built in: a datatrove filter by import path, and a package's step through an entry point."""

from __future__ import annotations

import textwrap

import pytest

from corpusforge.errors import ConfigError
from tests.llm.conftest import SAMPLES, assert_balanced, read_rows, run_build

QA = str(SAMPLES / "qa" / "qa_sample.jsonl")


def qa_recipe(output, steps) -> dict:
    return {
        "name": "plugins",
        "output": {"path": str(output)},
        "executor": {"type": "local", "tasks": 1, "workers": 1},
        "sources": {"qa": {"reader": {"type": "read.qa", "path": QA}, "steps": steps}},
        "dedup": {"exact": {"enabled": False}, "minhash": {"enabled": False}},
    }


@pytest.fixture()
def plugin_package(tmp_path, monkeypatch):
    """A throwaway installed package: module + dist-info declaring a `corpusforge.steps` entry point."""
    root = tmp_path / "site"
    (root / "shout_steps").mkdir(parents=True)
    (root / "shout_steps" / "__init__.py").write_text(
        textwrap.dedent('''
        from datatrove.pipeline.base import PipelineStep

        class Shout(PipelineStep):
            """Upper-case every document; counts what it changed."""
            name = "shout"
            type = "TEST"

            def __init__(self, suffix: str = "!", times: int = 1):
                super().__init__()
                self.suffix, self.times = suffix, times

            def run(self, data, rank=0, world_size=1):
                for doc in data:
                    doc.text = doc.text.upper() + self.suffix * self.times
                    self.stat_update("shouted")
                    yield doc
    ''')
    )
    dist = root / "shout_steps-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: shout-steps\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[corpusforge.steps]\nshout.upper = shout_steps:Shout\n")
    monkeypatch.syspath_prepend(str(root))
    return root


def test_import_path_and_entry_point_steps_run_and_are_counted(plugin_package, tmp_path):
    steps = [
        # any datatrove filter by import path, with its own arguments: drops the QA pairs about stroke
        {"type": "py:datatrove.pipeline.filters:RegexFilter", "regex_exp": "(?i)stroke"},
        {"type": "shout.upper", "suffix": "?!", "times": 2},
    ]
    manifest = run_build(qa_recipe(tmp_path / "out", steps), tmp_path)
    assert_balanced(manifest)
    rows = read_rows(tmp_path / "out")
    source = manifest["sources"]["qa"]
    dropped = sum(source["dropped"].values())
    assert dropped >= 1 and source["kept"] == len(rows) == source["input"] - dropped
    assert all(r["text"].endswith("?!?!") and r["text"] == r["text"].upper() for r in rows)
    assert not any("STROKE" in r["text"] for r in rows)
    assert source["details"]["shout.upper"]["shouted"] == len(rows)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            {"type": "py:no_such_pkg.filters:Nope"},
            "sources.qa.steps.0.type: 'py:no_such_pkg.filters:Nope': cannot import module 'no_such_pkg.filters'",
        ),
        ({"type": "py:datatrove.pipeline.filters:NoSuchFilter"}, "has no 'NoSuchFilter'"),
        ({"type": "py:datatrove.pipeline.filters"}, "write an import path as py:package.module:ClassName"),
        ({"type": "py:json:JSONDecoder"}, "is not a datatrove PipelineStep subclass"),
        (
            {"type": "py:datatrove.pipeline.filters:RegexFilter", "regex_expr": "x"},
            "sources.qa.steps.0.regex_expr (type py:datatrove.pipeline.filters:RegexFilter): unknown key",
        ),
        (
            {"type": "py:datatrove.pipeline.filters:RegexFilter"},
            "sources.qa.steps.0.regex_exp (type py:datatrove.pipeline.filters:RegexFilter): Field required",
        ),
        ({"type": "shout.upper", "times": "many"}, "sources.qa.steps.0.times (type shout.upper):"),
        ({"type": "shout.lower"}, "unknown type 'shout.lower'"),
    ],
)
def test_outside_steps_are_validated_before_any_io(plugin_package, tmp_path, step, message):
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as error:
        run_build(qa_recipe(out, [step]), tmp_path)
    assert message in str(error.value)
    assert not out.exists()
