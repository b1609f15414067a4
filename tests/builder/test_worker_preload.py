"""The fork server's preload for local build workers: every registered step and spaCy, and nothing heavy."""

import subprocess
import sys


def test_worker_preload_loads_the_steps_and_spacy_but_not_torch():
    code = (
        "import sys, corpusforge.builder.worker_preload\n"
        "from corpusforge.pipeline.registry import registered\n"
        "print(len(registered()), 'spacy.lang.en' in sys.modules, 'torch' in sys.modules, 'vllm' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    steps, spacy, torch, vllm = done.stdout.split()
    assert int(steps) > 20 and spacy == "True"
    assert (torch, vllm) == ("False", "False")  # every worker of every stage would pay for them


def test_local_executor_with_workers_preloads_the_fork_server(tmp_path):
    from multiprocess import forkserver

    from corpusforge.builder.runner import FORK_SERVER_PRELOAD
    from corpusforge.runtime.executors import LocalExecutorSpec, make_executor

    server = forkserver._forkserver  # the process-wide fork server's settings (it starts on first use)
    before = list(server._preload_modules)
    try:
        spec = LocalExecutorSpec(tasks=2, workers=2)
        make_executor(spec, [], 2, tmp_path / "logs", "job", fork_server_preload=FORK_SERVER_PRELOAD)
        assert server._preload_modules == ["__main__", "corpusforge.builder.worker_preload"]
    finally:
        server._preload_modules = before
