"""The label job: what to label, with which model and backend, by which strategy, into which directory.

A job comes from a YAML recipe (recipes/label_pqa_u.yaml) or from a named preset (`pqa-u`, `pqa-l`) plus
command-line flags; both are validated here as a whole before anything is loaded. The defaults are the PQA-U
preset: yes/no/maybe options keyed A/B/C (Table 9 of the AntGLM-Med paper), long answers shown to the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, field_validator, model_validator

from corpusforge.config import StrictModel
from corpusforge.llm.config import ModelSpec, SamplingSpec
from corpusforge.runtime.executors import LocalExecutorSpec, RayExecutorSpec, SlurmExecutorSpec

STRATEGIES = ("long-answer", "voc", "cot", "ppl")
StrategyName = Literal["long-answer", "voc", "cot", "ppl"]


class OptionSpec(StrictModel):
    """One answer option: the key the model answers with (A) and the label it stands for (yes)."""

    key: str = Field(pattern=r"^[A-Z]$")
    text: str = Field(min_length=1)


class InputSpec(StrictModel):
    """Where the items come from: a local file/folder, or a Hub dataset (`hub: qiaojin/PubMedQA`)."""

    path: str | None = None
    hub: str | None = None
    hub_config: str | None = "pqa_unlabeled"
    hub_split: str = "train"
    # pubmedqa: ori_pqau.json / ori_pqal.json dicts, the Hub parquet layout, or JSONL of either.
    # jsonl: any JSON lines, read through `fields`.
    format: Literal["pubmedqa", "jsonl"] = "pubmedqa"
    fields: dict[str, str] = Field(
        default_factory=lambda: {
            "id": "id",
            "question": "question",
            "context": "context",
            "long_answer": "long_answer",
        }
    )

    @model_validator(mode="after")
    def _one_source(self) -> InputSpec:
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of input.path (a local file or folder) or input.hub (a dataset name)")
        missing = {"id", "question"} - set(self.fields)
        if missing:
            raise ValueError(f"input.fields must map {sorted(missing)}")
        return self


class TaskSpec(StrictModel):
    """The labelling task: options, templates and how prompts are framed."""

    name: str = "pqa-u"
    options: list[OptionSpec] = Field(
        default_factory=lambda: [
            OptionSpec(key="A", text="yes"),
            OptionSpec(key="B", text="no"),
            OptionSpec(key="C", text="maybe"),
        ],
        min_length=2,
    )
    # a folder with the same file names as corpusforge/label/templates/pubmedqa, to change the prompts
    templates: str | None = None
    use_long_answer: bool = True
    # wrap each prompt in the tokenizer's chat template (instruction-tuned models); false for base models
    chat: bool = True

    @field_validator("options")
    @classmethod
    def _distinct(cls, options: list[OptionSpec]) -> list[OptionSpec]:
        keys = [o.key for o in options]
        texts = [o.text for o in options]
        if len(set(keys)) != len(keys) or len(set(texts)) != len(texts):
            raise ValueError("option keys and texts must be distinct")
        return options


class MaxTokens(StrictModel):
    """Generation budget per step (tokens)."""

    explain: int = Field(default=192, ge=1)
    verify: int = Field(default=192, ge=1)
    reason: int = Field(default=256, ge=1)
    answer: int = Field(default=4, ge=1)


class LabelSampling(SamplingSpec):
    """The job's `sampling:` section: the shared sampling settings and a token budget per strategy step."""

    max_tokens: MaxTokens = Field(default_factory=MaxTokens)


class AnswerSpec(StrictModel):
    """How the final answer is obtained and what happens when the model writes something unusable."""

    # true: decode under a choice constraint from the start; false: free text first, constrained retries after
    constrained: bool = True
    max_retries: int = Field(default=2, ge=0)
    retry_temperature: float = Field(default=0.7, ge=0)


class PPLSpec(StrictModel):
    # perplexity: mean log-probability per option token (the paper's "smallest PPL");
    # loglikelihood: summed log-probability (lm-evaluation-harness `acc`)
    rank_by: Literal["perplexity", "loglikelihood"] = "perplexity"


class EnsembleSpec(StrictModel):
    strategies: list[StrategyName] = Field(default_factory=lambda: ["long-answer", "voc", "ppl"], min_length=2)


class RunSpec(StrictModel):
    output: str | None = None
    limit: int | None = Field(default=None, ge=1)
    # items labelled per wave; every step of a wave is one batch for the backend
    chunk_size: int = Field(default=512, ge=1)
    # default: OUTPUT/.corpusforge/label_cache.sqlite; point several jobs at one file to share answers
    cache: str | None = None
    progress: bool = True
    # data parallelism by hand: this job labels the items at positions shard_index, shard_index + num_shards, ...
    # (after --limit) into its own output directory; `corpusforge label merge` joins them (or use `executor:`)
    num_shards: int = Field(default=1, ge=1)
    shard_index: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _shard_in_range(self) -> RunSpec:
        if self.shard_index >= self.num_shards:
            raise ValueError(f"run.shard_index must be < run.num_shards ({self.num_shards})")
        return self


# ---- executors: how many tasks label the items, and where they run ------------------------------------------
# the runtime's executor specs (corpusforge/runtime/executors.py, a build's too) plus the devices of one task's
# engine, with a label job's defaults
class LocalLabelExecutor(LocalExecutorSpec):
    """This machine: `tasks` processes (datatrove's LocalPipelineExecutor), `workers` of them at a time.

    tasks=1 (the default) labels in the command's own process. With gpus_per_task > 0 each running task gets its
    own GPUs (CUDA_VISIBLE_DEVICES) out of `gpus` (default: the visible ones, or 0..workers*gpus_per_task-1).
    Without GPUs a task's device is CPU cores: each running task gets `cpus_per_task` of them (default: this
    command's cores divided among the running tasks) for its engine's threads, pinned to them.
    """

    tasks: int = Field(1, ge=1)
    gpus_per_task: int = Field(0, ge=0)
    gpus: list[int] | None = None
    cpus_per_task: int | None = Field(None, ge=1, description="CPU engines: cores per task; none: an equal share")


class RayLabelExecutor(RayExecutorSpec):
    """A Ray cluster (`address`) or a local Ray instance; each task is a Ray task that reserves its GPUs."""

    cpus_per_task: int = Field(1, ge=1)
    mem_per_cpu_gb: float = Field(2, gt=0)


class SlurmLabelExecutor(SlurmExecutorSpec):
    """A Slurm job array (datatrove's SlurmPipelineExecutor), one array task per label task; the command
    submits and returns, and the same command run again after the array finishes merges the output."""

    time: str = "24:00:00"
    cpus_per_task: int = Field(8, ge=1)
    mem_per_cpu_gb: int = Field(8, ge=1)
    qos: str | None = None
    gpus_per_task: int = Field(1, ge=0)


LabelExecutor = Annotated[
    Union[LocalLabelExecutor, RayLabelExecutor, SlurmLabelExecutor],  # noqa: UP007
    Field(discriminator="type"),
]


class EvalSpec(StrictModel):
    """Score the labeler on PQA-L: the official test split is selected by the PMIDs of test_ground_truth.json."""

    ground_truth: str | None = None


class LabelJob(StrictModel):
    input: InputSpec
    task: TaskSpec = Field(default_factory=TaskSpec)
    model: ModelSpec
    strategy: Literal["long-answer", "voc", "cot", "ppl", "ensemble"] = "voc"
    sampling: LabelSampling = Field(default_factory=LabelSampling)
    answer: AnswerSpec = Field(default_factory=AnswerSpec)
    ppl: PPLSpec = Field(default_factory=PPLSpec)
    ensemble: EnsembleSpec = Field(default_factory=EnsembleSpec)
    run: RunSpec = Field(default_factory=RunSpec)
    eval: EvalSpec = Field(default_factory=EvalSpec)
    executor: LabelExecutor = Field(default_factory=LocalLabelExecutor)

    @field_validator("executor", mode="before")
    @classmethod
    def _default_executor(cls, value: Any) -> Any:
        """An executor section without `type` runs on this machine."""
        if isinstance(value, dict) and "type" not in value:
            return {"type": "local", **value}
        return value

    @model_validator(mode="after")
    def _gpus_fit_the_engine(self) -> LabelJob:
        spec, backend = self.executor, self.model.backend
        if backend.type == "vllm" and spec.gpus_per_task:
            need = backend.tensor_parallel_size * backend.pipeline_parallel_size
            if spec.gpus_per_task < need:
                raise ValueError(
                    f"executor.gpus_per_task ({spec.gpus_per_task}) is smaller than the engine needs "
                    f"(tensor_parallel_size x pipeline_parallel_size = {need})"
                )
        return self

    @property
    def multi_task(self) -> bool:
        """Whether the items are split into tasks (any executor but one local task)."""
        return self.executor.type != "local" or self.executor.tasks > 1

    @property
    def strategies(self) -> list[str]:
        """The strategies that run for each item (one, or the ensemble's members)."""
        return list(self.ensemble.strategies) if self.strategy == "ensemble" else [self.strategy]

    def output_dir(self) -> Path:
        if not self.run.output:
            raise ValueError("run.output is not set")
        return Path(self.run.output)

    def cache_path(self) -> Path:
        return Path(self.run.cache) if self.run.cache else self.output_dir() / ".corpusforge" / "label_cache.sqlite"
