"""Recipes are validated as a whole before any I/O, with errors that name the YAML path and the choices."""

from __future__ import annotations

import pytest

from corpusforge.builder.recipe import check_inputs, load_recipe
from corpusforge.errors import ConfigError
from tests.builder.conftest import messy_recipe, write_recipe


@pytest.fixture()
def recipe_path(tmp_path, messy_source):
    return write_recipe(tmp_path / "r.yaml", messy_recipe(messy_source[0], tmp_path / "out"))


def test_valid_recipe_loads_with_defaults(recipe_path):
    recipe = load_recipe(recipe_path)
    assert recipe.executor.type == "local"
    assert recipe.dedup.exact.enabled and recipe.dedup.minhash.enabled
    assert recipe.sources["web"].reader.type == "read.jsonl"


def test_unknown_key_is_named_with_its_path(tmp_path, messy_source):
    data = messy_recipe(messy_source[0], tmp_path / "out")
    data["sources"]["web"]["reader"]["pathh"] = "typo"
    with pytest.raises(ConfigError) as err:
        load_recipe(write_recipe(tmp_path / "r.yaml", data))
    assert "sources.web.reader.pathh (type read.jsonl): unknown key" in str(err.value)


def test_unknown_step_lists_valid_choices(tmp_path, messy_source):
    data = messy_recipe(messy_source[0], tmp_path / "out")
    data["filters"].append({"type": "filter.lenght"})
    with pytest.raises(ConfigError) as err:
        load_recipe(write_recipe(tmp_path / "r.yaml", data))
    message = str(err.value)
    assert "filters.2: unknown type 'filter.lenght'" in message
    assert "'filter.length'" in message and "'clean.characters'" in message


def test_unknown_executor_lists_choices(tmp_path, messy_source):
    data = messy_recipe(messy_source[0], tmp_path / "out")
    data["executor"]["type"] = "kubernetes"
    with pytest.raises(ConfigError) as err:
        load_recipe(write_recipe(tmp_path / "r.yaml", data))
    assert "executor: unknown type 'kubernetes'" in str(err.value)
    assert "'local'" in str(err.value) and "'ray'" in str(err.value) and "'slurm'" in str(err.value)


def test_bad_parameter_value_is_reported(tmp_path, messy_source):
    data = messy_recipe(messy_source[0], tmp_path / "out")
    data["executor"]["tasks"] = 0
    with pytest.raises(ConfigError) as err:
        load_recipe(write_recipe(tmp_path / "r.yaml", data))
    assert "executor.local.tasks: Input should be greater than or equal to 1" in str(err.value)


def test_set_overrides_and_output(recipe_path, tmp_path):
    recipe = load_recipe(
        recipe_path,
        overrides=["executor.tasks=3", "filters.1.min_chars=10", "sources.web.reader.path=/elsewhere"],
        output=str(tmp_path / "o2"),
    )
    assert recipe.executor.tasks == 3
    assert recipe.filters[1].min_chars == 10
    assert recipe.sources["web"].reader.path == "/elsewhere"
    assert recipe.output.path == str(tmp_path / "o2")


def test_bad_override_syntax(recipe_path):
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_recipe(recipe_path, overrides=["executor.tasks"])
    with pytest.raises(ConfigError, match="filters.9 must be an index"):
        load_recipe(recipe_path, overrides=["filters.9.min_chars=3"])


def test_missing_input_paths_are_reported_before_io(tmp_path, messy_source):
    data = messy_recipe(tmp_path / "nowhere", tmp_path / "out")
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", data))
    problems = check_inputs(recipe)
    assert problems == [f"sources.web.reader.path: {tmp_path / 'nowhere'}: file or folder not found"]


def test_yaml_syntax_error_names_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nsources:\n  web: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken.yaml:\d+:\d+: not valid YAML"):
        load_recipe(path)


def test_skipping_a_filter_that_is_not_shared_is_an_error(tmp_path, messy_source):
    data = messy_recipe(messy_source[0], tmp_path / "out")
    data["sources"]["web"]["skip_shared_filters"] = ["filter.lenght"]
    with pytest.raises(ConfigError) as err:
        load_recipe(write_recipe(tmp_path / "r.yaml", data))
    assert "skip_shared_filters: ['filter.lenght'] are not shared filters" in str(err.value)


def test_instruct_sections_belong_to_instruct_recipes(tmp_path, messy_source):
    data = messy_recipe(messy_source[0], tmp_path / "out")
    data["tasks"] = {"pubmedqa": 0}
    with pytest.raises(ConfigError, match="`mix` and `tasks` are for `kind: instruct` recipes"):
        load_recipe(write_recipe(tmp_path / "r.yaml", data))
    data = {**messy_recipe(messy_source[0], tmp_path / "out"), "kind": "instruct"}
    recipe = load_recipe(write_recipe(tmp_path / "r.yaml", data))
    assert recipe.mix is not None and not recipe.dedup.minhash.enabled  # MinHash off by default for instruct
