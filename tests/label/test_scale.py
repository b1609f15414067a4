"""A label job split into tasks (local processes, Ray on 127.0.0.1, a Slurm array) ends as one output, exactly
the records of a one-process run; a killed multi-task run resumes; manual num_shards outputs merge into one."""

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpusforge.config import validate
from corpusforge.errors import BuildError, ConfigError
from corpusforge.label.config import LabelJob
from corpusforge.label.job import run_label_job
from corpusforge.label.merge import merge_shards
from corpusforge.label.shards import shares
from tests.label.conftest import PQAU_SAMPLE, SHORT, job_data, make_job, read_records
from tests.label.test_lifecycle import descendants, survivors

LIMIT = 12
RAY = ["executor.num_cpus=2", "executor.mem_per_cpu_gb=0.5"]
VLLM = {"type": "vllm", "dtype": "float32", "max_model_len": 1024, "enforce_eager": True}


def cli(model_dir, output, backend, executor, tasks=2, extra=()):
    args = ["label", "pqa-u", "--input", str(PQAU_SAMPLE), "--model", str(model_dir), "--backend", backend,
            "--strategy", "voc", "--output", str(output), "--limit", str(LIMIT), "--quiet",
            "--executor", executor, "--tasks", str(tasks)]  # fmt: skip
    settings = [f"sampling.max_tokens.{k}={v}" for k, v in SHORT.items()] + ["run.chunk_size=2", *extra]
    if backend == "transformers":
        settings.append("model.backend.batch_size=4")
    else:
        settings += [f"model.backend.{k}={str(v).lower()}" for k, v in VLLM.items() if k != "type"]
    for s in settings:
        args += ["--set", s]
    return [sys.executable, "-c", "from corpusforge.cli import main; main()", *args]


def env(**extra):
    return {**os.environ, "HF_HUB_OFFLINE": "1", "VLLM_CPU_KVCACHE_SPACE": "1", **extra}


def same(records):
    """What must be equal to a one-process run's records: order, ids, labels, and what the model wrote."""
    return [
        (r["id"], r["label"], [[(s["step"], s["option"], s["text"]) for s in m["steps"]] for m in r["strategies"]])
        for r in records
    ]


def task_cache_rows(out: Path) -> int:
    import sqlite3

    total = 0
    for path in (out / ".corpusforge" / "tasks").glob("*/label_cache.sqlite"):
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            total += db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        except sqlite3.OperationalError:
            pass
        finally:
            db.close()
    return total


@pytest.fixture(scope="module")
def one_process(tiny_model_dir, transformers_backend, tmp_path_factory):
    """The reference: the same job in one process (transformers)."""
    out = tmp_path_factory.mktemp("one") / "out"
    job = make_job(tiny_model_dir, out, "voc", run={"limit": LIMIT, "chunk_size": 2},
                   backend={"type": "transformers", "batch_size": 4})  # fmt: skip
    run_label_job(job, backend=transformers_backend)
    return read_records(out)


def test_shares_are_contiguous_and_cover_every_item():
    assert shares(list(range(10)), 3) == [[0, 1, 2], [3, 4, 5], [6, 7, 8, 9]]
    assert shares([4, 7], 3) == [[], [4], [7]]


def test_executor_settings_come_from_flags_recipe_and_set(tiny_model_dir, tmp_path):
    from tests.label.test_cli_config import invoke

    result = invoke("pqa-u", "--input", str(PQAU_SAMPLE), "-m", "m", "-o", str(tmp_path / "o"), "--executor", "ray",
                    "--tasks", "8", "--set", "executor.gpus_per_task=1", "--dry-run")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "type: ray" in result.output and "tasks: 8" in result.output
    assert "# executor: ray, 8 tasks, 1 GPUs per task" in result.output
    data = job_data(tiny_model_dir, tmp_path / "o", backend={"type": "vllm", "tensor_parallel_size": 2},
                    executor={"type": "ray", "gpus_per_task": 1})  # fmt: skip
    with pytest.raises(ConfigError, match="executor.gpus_per_task"):
        validate(LabelJob, data)
    assert validate(LabelJob, job_data(tiny_model_dir, tmp_path, executor={"tasks": 3})).executor.type == "local"


@pytest.mark.slow
def test_ray_two_transformers_tasks_killed_then_rerun_label_like_one_process(tiny_model_dir, one_process, tmp_path):
    out, log = tmp_path / "out", tmp_path / "run.log"
    command = cli(tiny_model_dir, out, "transformers", "ray", extra=RAY)
    with open(log, "wb") as f:
        process = subprocess.Popen(command, stdout=f, stderr=subprocess.STDOUT, env=env())
    deadline = time.monotonic() + 600
    while task_cache_rows(out) < 10:
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)
    children = descendants(process.pid)  # Ray's processes and the tasks
    process.kill()
    process.wait()
    deadline = time.monotonic() + 15
    while survivors(children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not survivors(children)
    finished = task_cache_rows(out)
    assert 10 <= finished < LIMIT * 5 and not (out / "manifest.json").exists()

    done = subprocess.run(command, capture_output=True, text=True, timeout=900, env=env())
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    requests = manifest["summary"]["requests"]
    assert requests["cache_hits"] >= finished and requests["sent_to_backend"] == LIMIT * 5 - requests["cache_hits"]
    assert manifest["executor"]["type"] == "ray" and len(manifest["executor"]["per_task"]) == 2
    assert same(read_records(out)) == same(one_process)
    assert sorted(p.name for p in (out / "data").iterdir()) == [f"train-{i:05d}.parquet" for i in range(6)]
    assert not list((out / ".corpusforge").glob("tasks/*/label_cache.sqlite"))  # one cache: the job's


@pytest.mark.slow
def test_ray_two_vllm_engines_label_the_same_items_as_one_engine(tiny_model_dir, vllm_engine, tmp_path):
    from corpusforge.llm.backends.vllm import VLLMBackend

    job = make_job(tiny_model_dir, tmp_path / "one", "voc", backend=VLLM, run={"limit": LIMIT})
    backend = VLLMBackend(job.model.backend, job.model.name, job.task.chat, llm=vllm_engine)
    backend.load()  # (the session's engine: this only takes its tokenizer)
    run_label_job(job, backend=backend)
    out = tmp_path / "ray"
    done = subprocess.run(cli(tiny_model_dir, out, "vllm", "ray", extra=RAY), capture_output=True, text=True,
                          timeout=900, env=env())  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(t["engine_started"] and t["items"] == LIMIT // 2 for t in manifest["executor"]["per_task"])
    merged, reference = read_records(out), read_records(tmp_path / "one")
    assert [(r["id"], r["label"]) for r in merged] == [(r["id"], r["label"]) for r in reference]
    assert manifest["rows_written"] == LIMIT


FAKE_SBATCH = """#!/bin/sh
n=$(ls "$SBATCH_DIR" | wc -l)
for last; do :; done
cp "$last" "$SBATCH_DIR/job-$n.sh"
echo "$@" > "$SBATCH_DIR/job-$n.args"
echo "Submitted batch job $((4242 + n))"
"""


@pytest.mark.slow
def test_slurm_submits_a_job_array_whose_tasks_merge_into_one_output(tiny_model_dir, one_process, tmp_path):
    bin_dir, submitted = tmp_path / "bin", tmp_path / "submitted"
    bin_dir.mkdir(), submitted.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH)
    (bin_dir / "scontrol").write_text("#!/bin/sh\necho localhost\n")  # `scontrol show hostnames` in a task
    for tool in ("sbatch", "scontrol"):
        (bin_dir / tool).chmod(stat.S_IRWXU)
    slurm_env = env(PATH=f"{bin_dir}:{os.environ['PATH']}", SBATCH_DIR=str(submitted))
    out = tmp_path / "out"
    command = cli(tiny_model_dir, out, "transformers", "slurm",
                  extra=["executor.partition=gpu", "executor.gpus_per_task=1", "executor.time=02:00:00"])  # fmt: skip
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, env=slurm_env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "submitted Slurm job array 4242" in first.stdout
    # the plan: one array of 2 tasks with a GPU each, running datatrove's pickled executor
    script = (submitted / "job-0.sh").read_text()
    for line in ("#SBATCH --array=0-1", "#SBATCH --gpus=1", "#SBATCH --partition=gpu", "#SBATCH --time=02:00:00"):
        assert line in script
    logs = out / ".corpusforge" / "tasks" / "logs"
    assert f"launch_pickled_pipeline {logs / 'executor.pik'}" in script
    assert json.loads((logs / "ranks_to_run.json").read_text()) == [0, 1]
    assert not (out / "manifest.json").exists()

    # what the array does on the cluster: each array task runs its rank from the pickled executor
    for rank in (0, 1):
        launch = ["-c", "import sys; from datatrove.tools.launch_pickled_pipeline import main; sys.exit(main())"]
        task = subprocess.run([sys.executable, *launch, str(logs / "executor.pik")], capture_output=True, text=True,
                              timeout=600, env={**slurm_env, "SLURM_ARRAY_TASK_ID": str(rank), "SLURM_NODELIST": "localhost"})  # fmt: skip
        assert task.returncode == 0, task.stdout[-3000:] + task.stderr[-3000:]
    merged = subprocess.run(command, capture_output=True, text=True, timeout=300, env=slurm_env)
    assert merged.returncode == 0, merged.stdout[-3000:] + merged.stderr[-3000:]
    assert "wrote" in merged.stdout and len(list(submitted.glob("*.sh"))) == 2  # + datatrove's merge_stats job
    assert same(read_records(out)) == same(one_process)


def test_label_merge_joins_manual_shards_into_one_output(tiny_model_dir, transformers_backend, one_process, tmp_path):
    shards = []
    for k in (1, 0):
        job = make_job(tiny_model_dir, tmp_path / f"shard{k}", "voc",
                       run={"limit": LIMIT, "chunk_size": 2, "num_shards": 2, "shard_index": k},
                       backend={"type": "transformers", "batch_size": 4})  # fmt: skip
        run_label_job(job, backend=transformers_backend)
        shards.append(tmp_path / f"shard{k}")
    with pytest.raises(ConfigError, match="shard_index"):
        merge_shards(shards[:1], tmp_path / "partial")
    run = merge_shards(shards, tmp_path / "merged")
    assert same(read_records(tmp_path / "merged")) == same(one_process)
    assert run.summary["input_records"] == LIMIT and run.manifest["merged_from"] == [str(s) for s in shards[::-1]]
    # the merged folder is a label output with one cache: labelling the same job there sends nothing
    job = make_job(tiny_model_dir, tmp_path / "merged", "voc", run={"limit": LIMIT, "chunk_size": 2},
                   backend={"type": "transformers", "batch_size": 4})  # fmt: skip
    again = run_label_job(job)
    assert again.summary["requests"]["sent_to_backend"] == 0 and again.manifest["engine_started"] is False


def test_gpus_per_task_reach_ray_resources_and_local_device_slots(tiny_model_dir, tmp_path, monkeypatch):
    from corpusforge.label.coordinator import make_label_executor
    from corpusforge.label.shards import LabelTask, claim_devices, device_settings

    ray_job = validate(LabelJob, job_data(tiny_model_dir, tmp_path / "r", backend={"type": "vllm"},
                                          executor={"type": "ray", "tasks": 8, "gpus_per_task": 1}))  # fmt: skip
    step = LabelTask(ray_job.model_dump(mode="json"), "run", device_settings(ray_job))
    executor = make_label_executor(ray_job, [step], tmp_path / "logs")
    assert (executor.tasks, executor.gpus_per_task) == (8, 1)  # each Ray task reserves one GPU

    local = validate(LabelJob, job_data(tiny_model_dir, tmp_path / "l", backend={"type": "vllm",
                     "tensor_parallel_size": 2}, executor={"tasks": 4, "gpus_per_task": 2, "gpus": [4, 5, 6, 7]}))  # fmt: skip
    devices = device_settings(local)
    assert devices["slots"] == 2  # 4 GPUs / 2 per task: two tasks at a time
    for name in ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS"):  # claiming sets them: restored after the test
        monkeypatch.setenv(name, os.environ.get(name, ""))
    with claim_devices(tmp_path / "l", devices) as first, claim_devices(tmp_path / "l", devices) as second:
        assert (first["CUDA_VISIBLE_DEVICES"], second["CUDA_VISIBLE_DEVICES"]) == ("4,5", "6,7")


def test_cpu_engine_tasks_get_their_own_cores(tiny_model_dir, tmp_path, monkeypatch):
    """Without GPUs a task's device is its CPU cores: `cpus_per_task` of them each (default: an equal share),
    pinned, and no more tasks at a time than sets of cores; an OpenAI-compatible client is not held to them."""
    from corpusforge.label.shards import claim_devices, device_settings, use_cpu_threads

    cores = sorted(os.sched_getaffinity(0))

    def settings(backend: str, **executor):
        return device_settings(validate(LabelJob, job_data(tiny_model_dir, tmp_path / "o", backend={"type": backend},
                                                           executor={"tasks": 4, **executor})))  # fmt: skip

    devices = settings("transformers", cpus_per_task=1)
    assert (devices["threads"], devices["slots"], devices["pin"]) == (1, min(4, len(cores)), True)
    assert settings("transformers")["threads"] == max(1, len(cores) // 4)
    assert settings("openai")["slots"] == 4 and not settings("openai")["pin"]
    with pytest.raises(BuildError, match=f"cpus_per_task: {len(cores) + 1} cores per task"):
        settings("transformers", cpus_per_task=len(cores) + 1)

    for name in ("OMP_NUM_THREADS", "VLLM_CPU_OMP_THREADS_BIND"):  # claiming sets them: restored after the test
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    try:
        with claim_devices(tmp_path / "o", devices) as env:
            assert env["OMP_NUM_THREADS"] == "1" and sorted(os.sched_getaffinity(0)) == cores[:1]
            use_cpu_threads(devices["threads"], "vllm", sorted(os.sched_getaffinity(0)))  # as run_task does
            assert os.environ["VLLM_CPU_OMP_THREADS_BIND"] == str(cores[0])
    finally:
        os.sched_setaffinity(0, cores)
