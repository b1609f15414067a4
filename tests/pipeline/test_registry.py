"""The registry knows every step module, and a pipeline worker imports only the steps it runs."""

import subprocess
import sys
from pathlib import Path

import corpusforge
from corpusforge.pipeline.registry import builtin_step_modules, registered

PACKAGE = Path(corpusforge.__file__).parent


def test_every_module_that_registers_a_step_is_loaded_by_the_registry():
    registering = {
        ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for path in PACKAGE.rglob("*.py")
        if "@register(" in path.read_text(encoding="utf-8") and path.name != "registry.py"
    }
    assert registering == set(builtin_step_modules())
    names = registered()
    assert {"read.jsonl", "clean.characters", "instruct.medqa", "decontam.eval_sets"} <= set(names)


def test_importing_one_step_does_not_import_every_step():
    code = (
        "import sys, corpusforge.pipeline.steps.clean, corpusforge.pipeline.readers.jsonl\n"
        "print(sorted(m for m in sys.modules if m.startswith('corpusforge.')))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "corpusforge.pipeline.steps.clean" in loaded
    assert "corpusforge.instruct" not in loaded
    assert "corpusforge.pipeline.steps.kg" not in loaded


def test_every_steps_params_pickle_by_reference():
    """Executors send steps (and the params some keep) to their workers by pickle: `module.Class.Params` must resolve."""
    import pickle

    for name, entry in registered().items():
        if entry.origin != "corpusforge":
            continue  # outside steps (loaded by earlier tests) get their params from the recipe, never pickled
        model = entry.params
        assert f"{model.__module__}.{model.__qualname__}".endswith(f"{entry.cls.__qualname__}.Params"), name
        params = model.model_construct(type=name)
        assert pickle.loads(pickle.dumps(params)).type == name, name
