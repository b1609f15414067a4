"""A recipe as an ordered list of stages, each one datatrove pipeline run over a number of tasks.

    source/<name>         reader -> the source's own steps -> shared filters -> intermediate JSONL
                          (or straight to the dataset's parquet shards when nothing runs across sources)
    dedup/exact-signatures, dedup/exact-find          (datatrove exact dedup, over all sources)
    dedup/minhash-signatures, -buckets, -clusters      (datatrove MinHash near-dedup, after exact dedup)
    mix/scan              instruct recipes with caps: a first pass over the deduplicated records
    write                 exact filter -> MinHash filter -> [instruct: mixture] -> parquet shards of the dataset
    tokenize              optional: datatrove's DocumentTokenizer over the written shards

Steps are built when a stage runs (`Stage.build()`), so a dry run only describes them. Every stage logs into its
own fixed folder under OUTPUT/.corpusforge/logs, which is what lets a rerun skip the tasks that finished.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.readers import JsonlReader

from corpusforge.builder.document_schema import arrow_schema, checked_document_record, unchecked_document_record
from corpusforge.builder.recipe import RecipeBase
from corpusforge.builder.writers import DatasetParquetWriter, IntermediateWriter
from corpusforge.instruct.eval_sets import TRAINING_DF_DIR, TrainingDFCounter, training_df_params
from corpusforge.instruct.stages import mix_scan_steps, mix_write_steps, needs_scan
from corpusforge.output.dataset_dir import DATA_DIR, STATE_DIR
from corpusforge.pipeline.dropped import DROPPED_SAMPLES_DIR, DroppedSamples
from corpusforge.pipeline.readers.base import SourceReader
from corpusforge.pipeline.registry import BuildContext, build_step, registered
from corpusforge.pipeline.steps.accounting import SourceCounter
from corpusforge.pipeline.steps.minhash import FastMinhashDedupSignature


@dataclass
class StepInfo:
    """What accounting needs to know about one step of a stage, by position."""

    name: str
    role: str  # reader | step | filter | expand | count | write
    unit: str = ""  # reader: what one input record is (books, triples); expand: what it makes (chunks, subgraphs)


@dataclass
class Stage:
    name: str
    tasks: int
    describe: list[str]
    factory: Callable[[], list[PipelineStep]]
    source: str | None = None
    steps: list[StepInfo] = field(default_factory=list)

    def build(self) -> list[PipelineStep]:
        return self.factory()

    @property
    def log_folder(self) -> str:
        return self.name.replace("/", "__")


@dataclass
class BuildPlan:
    recipe: RecipeBase
    output_dir: Path
    stages: list[Stage]

    @property
    def state_dir(self) -> Path:
        return self.output_dir / STATE_DIR

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def work_dir(self) -> Path:
        return self.state_dir / "work"

    def stage_logs(self, stage: Stage) -> Path:
        return self.logs_dir / stage.log_folder

    def describe(self) -> str:
        lines = [f"output: {self.output_dir}", f"executor: {self.recipe.executor.type}", "stages:"]
        for i, stage in enumerate(self.stages, 1):
            lines.append(f"  {i}. {stage.name}  (tasks: {stage.tasks})")
            lines += [f"       - {d}" for d in stage.describe]
        return "\n".join(lines)


class IntermediateReader(JsonlReader):
    """The sources' intermediate documents. No file at all is a valid answer, not an error: every record of every
    source may have been quarantined or dropped, and the build must still end with its manifest and card."""

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        if not self.data_folder.list_files(recursive=self.recursive, glob_pattern=self.glob_pattern):
            return
        yield from super().run(None, rank, world_size)


def dedup_content(doc: Document) -> str:
    """What exact dedup compares: the text with whitespace runs collapsed."""
    return " ".join(doc.text.split())


def _step_role(step_params) -> str:
    """filter: drops with reasons; expand: changes the number of documents; step: 1:1 transform."""
    from datatrove.pipeline.filters.base_filter import BaseFilter

    cls = registered()[step_params.type].cls
    if getattr(cls, "changes_cardinality", False):
        return "expand"
    return "filter" if issubclass(cls, BaseFilter) else "step"


def _step_unit(step_params, role: str) -> str:
    """The unit a reader counts (`unit`) or an expanding step makes (`output_unit`), for accounting and the card."""
    cls = registered()[step_params.type].cls
    if role == "reader":
        return getattr(cls, "unit", "records")
    return getattr(cls, "output_unit", "documents") if role == "expand" else ""


def _requires_single_task(step_params) -> bool:
    return bool(getattr(registered()[step_params.type].cls, "requires_single_task", False))


def make_plan(recipe: RecipeBase) -> BuildPlan:
    output_dir = Path(recipe.output.path)
    plan = BuildPlan(recipe=recipe, output_dir=output_dir, stages=[])
    work = plan.work_dir
    sources_dir = work / "sources"
    tasks = recipe.executor.tasks

    exact = recipe.dedup.exact.enabled
    minhash = recipe.dedup.minhash.enabled
    direct = not (exact or minhash or recipe.kind == "instruct")  # no step sees more than one source
    for name, source in recipe.enabled_sources().items():
        df_stage = _training_df_stage(recipe, name, source, output_dir, sources_dir, tasks)
        if df_stage is not None:
            plan.stages.append(df_stage)
        plan.stages.append(_source_stage(recipe, name, source, output_dir, sources_dir, tasks, direct))
    if direct:
        if recipe.output.tokenize:
            plan.stages.append(_tokenize_stage(recipe, output_dir, tasks))
        return plan

    if exact:
        plan.stages += _exact_dedup_stages(sources_dir, work / "exact", tasks)
    if minhash:
        plan.stages += _minhash_stages(recipe, sources_dir, work, tasks, exact)
    if recipe.kind == "instruct" and needs_scan(recipe.mix):
        plan.stages.append(_mix_scan_stage(recipe, sources_dir, work, tasks, exact, minhash))
    plan.stages.append(_write_stage(recipe, sources_dir, work, output_dir, tasks, exact, minhash))
    if recipe.output.tokenize:
        plan.stages.append(_tokenize_stage(recipe, output_dir, tasks))
    return plan


def _source_stage(recipe, name, source, output_dir, sources_dir, tasks, direct: bool) -> Stage:
    shared = [f for f in recipe.filters if f.type not in source.skip_shared_filters]
    own = list(source.steps)
    single = any(_requires_single_task(p) for p in own + shared)
    ctx = BuildContext(
        source=name,
        output_dir=output_dir,
        work_dir=sources_dir.parent,
        seed=recipe.seed,
        llm=recipe.llm,
        license=source.license,
        extra={"task_ids": dict(recipe.tasks)},
    )

    def factory() -> list[PipelineStep]:
        steps = [build_step(source.reader, ctx)]
        steps += [build_step(p, ctx) for p in own + shared]
        keep_dropped_samples(
            steps, [source.reader, *own, *shared], output_dir / STATE_DIR / DROPPED_SAMPLES_DIR / name
        )
        steps.append(SourceCounter("source_out", licenses=direct))  # direct: the last count before the dataset
        if direct:
            steps.append(_document_writer(recipe, output_dir, f"train/{name}-${{rank}}.parquet"))
        else:
            steps.append(
                IntermediateWriter(str(sources_dir / name), output_filename="${rank}.jsonl", compression=None)
            )
        return steps

    infos = [StepInfo(source.reader.type, "reader", _step_unit(source.reader, "reader"))]
    infos += [StepInfo(p.type, _step_role(p), _step_unit(p, _step_role(p))) for p in own + shared]
    infos += [StepInfo("count:source_out", "count"), StepInfo("write", "write")]
    describe = [f"{i.name}" + (" (shared filter)" if p in shared else "") for i, p in zip(infos[1:], own + shared)]
    target = output_dir / DATA_DIR / "train" if direct else sources_dir / name
    return Stage(
        name=f"source/{name}",
        tasks=1 if single else tasks,
        describe=[f"{source.reader.type}: {source.reader.path}", *describe, f"-> {target}"],
        factory=factory,
        source=name,
        steps=infos,
    )


def _training_df_stage(recipe, name, source, output_dir, sources_dir, tasks) -> Stage | None:
    """decontam.eval_sets with `training_df`: a pass over the source (reader and the steps before the check) that
    counts how many documents contain each indexed span, so spans common on the training side are not evidence."""
    shared = [f for f in recipe.filters if f.type not in source.skip_shared_filters]
    steps = list(source.steps) + shared
    found = training_df_params(steps)
    if found is None:
        return None
    position, params = found
    ctx = BuildContext(
        source=name, output_dir=output_dir, work_dir=sources_dir.parent, seed=recipe.seed, llm=recipe.llm,
        extra={"task_ids": dict(recipe.tasks)},
    )  # fmt: skip
    folder = sources_dir.parent / TRAINING_DF_DIR / name

    def factory() -> list[PipelineStep]:
        built = [build_step(source.reader, ctx), *(build_step(p, ctx) for p in steps[:position])]
        return [*built, TrainingDFCounter(params.model_dump(), folder)]

    single = any(_requires_single_task(p) for p in steps)
    return Stage(
        name=f"decontam-df/{name}",
        tasks=1 if single else tasks,
        describe=[
            f"{source.reader.type}: {source.reader.path}",
            *(p.type for p in steps[:position]),
            f"count evaluation spans in training documents -> {folder}",
        ],  # fmt: skip
        factory=factory,
    )


def _intermediate_reader(sources_dir: Path):
    return IntermediateReader(str(sources_dir), glob_pattern="*/*.jsonl", recursive=True, add_file_path=False)


def _exact_config():
    from datatrove.pipeline.dedup.exact_dedup import ExactDedupConfig

    return ExactDedupConfig(content_getter=dedup_content)


def _exact_dedup_stages(sources_dir: Path, exact_dir: Path, tasks: int) -> list[Stage]:
    def signatures() -> list[PipelineStep]:
        from datatrove.pipeline.dedup.exact_dedup import ExactDedupSignature

        return [_intermediate_reader(sources_dir), ExactDedupSignature(str(exact_dir / "sigs"), _exact_config())]

    def find() -> list[PipelineStep]:
        from datatrove.pipeline.dedup.exact_dedup import ExactFindDedups

        return [ExactFindDedups(str(exact_dir / "sigs"), str(exact_dir / "dups"), _exact_config())]

    return [
        Stage("dedup/exact-signatures", tasks, ["hash every document's whitespace-normalized text"], signatures),
        Stage("dedup/exact-find", 1, ["find documents with identical hashes"], find),
    ]


def _minhash_config(recipe: RecipeBase):
    from datatrove.pipeline.dedup.minhash import MinhashConfig

    spec = recipe.dedup.minhash
    return MinhashConfig(
        n_grams=spec.n_grams,
        num_buckets=spec.num_buckets,
        hashes_per_bucket=spec.hashes_per_bucket,
        seed=recipe.seed + 1,
    )


def _exact_filter(work: Path, exclusion_writer=None):
    from datatrove.pipeline.dedup.exact_dedup import ExactDedupFilter

    return ExactDedupFilter(str(work / "exact" / "dups"), _exact_config(), exclusion_writer=exclusion_writer)


def keep_dropped_samples(steps: list[PipelineStep], params: list, folder: Path) -> None:
    """Let a source's reader and filters keep a bounded sample of what they drop (for the report)."""
    from datatrove.pipeline.filters.base_filter import BaseFilter

    for step, p in zip(steps, params):
        if isinstance(step, SourceReader):
            step.dropped_samples = DroppedSamples(folder, p.type)
        elif isinstance(step, BaseFilter) and step.exclusion_writer is None:
            step.exclusion_writer = DroppedSamples(folder, p.type)


def _minhash_stages(recipe: RecipeBase, sources_dir: Path, work: Path, tasks: int, after_exact: bool) -> list[Stage]:
    mh = work / "minhash"
    spec = recipe.dedup.minhash

    def signatures() -> list[PipelineStep]:
        from datatrove.pipeline.dedup.minhash import MinhashDedupSignature

        steps = [_intermediate_reader(sources_dir)]
        if after_exact:  # MinHash indexes documents by position: it must see the stream the write stage sees
            steps.append(_exact_filter(work))
        signature = FastMinhashDedupSignature if spec.implementation == "fast" else MinhashDedupSignature
        steps.append(signature(str(mh / "sigs"), _minhash_config(recipe), language=spec.language))
        return steps

    def buckets() -> list[PipelineStep]:
        from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets

        return [MinhashDedupBuckets(str(mh / "sigs"), str(mh / "buckets"), config=_minhash_config(recipe))]

    def clusters() -> list[PipelineStep]:
        from datatrove.pipeline.dedup.minhash import MinhashDedupCluster

        return [MinhashDedupCluster(str(mh / "buckets"), str(mh / "remove_ids"), config=_minhash_config(recipe))]

    sig_note = f"{spec.num_buckets}x{spec.hashes_per_bucket} MinHash signatures of word {spec.n_grams}-grams"
    return [
        Stage("dedup/minhash-signatures", tasks, [sig_note], signatures),
        Stage("dedup/minhash-buckets", spec.num_buckets, ["match signatures bucket by bucket"], buckets),
        Stage("dedup/minhash-clusters", 1, ["cluster near-duplicates, keep one per cluster"], clusters),
    ]


def _deduplicated(sources_dir: Path, work: Path, exact: bool, minhash: bool, counted: bool) -> list[PipelineStep]:
    """The intermediate documents of every source, without duplicates (optionally counted per source)."""
    from datatrove.pipeline.dedup.minhash import MinhashDedupFilter

    def count(checkpoint: str) -> list[PipelineStep]:
        return [SourceCounter(checkpoint)] if counted else []

    def samples(reason: str) -> dict:  # the write stage keeps a few examples of what dedup dropped
        folder = work.parent / DROPPED_SAMPLES_DIR / "_dedup"
        return {"exclusion_writer": DroppedSamples(folder, reason, default_reason=reason)} if counted else {}

    steps: list[PipelineStep] = [_intermediate_reader(sources_dir), *count("merged")]
    if exact:
        steps += [_exact_filter(work, **samples("exact_duplicate")), *count("after_exact_dedup")]
    if minhash:
        remove_ids = str(work / "minhash" / "remove_ids")
        steps += [MinhashDedupFilter(remove_ids, **samples("near_duplicate")), *count("after_near_dedup")]
    return steps


def _mix_scan_stage(recipe, sources_dir, work, tasks, exact, minhash) -> Stage:
    def factory() -> list[PipelineStep]:
        return _deduplicated(sources_dir, work, exact, minhash, counted=False) + mix_scan_steps(recipe.mix, work)

    return Stage("mix/scan", tasks, ["find each capped source's cut-off (ids hashed under the mix seed)"], factory)


def _write_stage(recipe, sources_dir, work, output_dir, tasks, exact, minhash) -> Stage:
    out = recipe.output

    def factory() -> list[PipelineStep]:
        steps = _deduplicated(sources_dir, work, exact, minhash, counted=True) + [
            SourceCounter("kept", licenses=True)
        ]
        if recipe.kind == "instruct":
            return steps + mix_write_steps(
                recipe.mix,
                work,
                output_dir,
                validate=out.validate_records,
                compression=out.compression,
                max_file_size=out.max_shard_mb * 2**20,
            )
        return steps + [_document_writer(recipe, output_dir, "train/${rank}.parquet")]

    describe = ["read all sources' intermediate documents"]
    describe += ["drop exact duplicates (exact_duplicate)"] if exact else []
    describe += ["drop near-duplicates (near_duplicate)"] if minhash else []
    if recipe.kind == "instruct":
        splits = ", ".join(["train", *recipe.mix.splits])
        describe += [f"mix: weights, caps, splits ({splits}) under seed {recipe.mix.seed}"]
        describe.append(f"-> {output_dir / DATA_DIR}/<split>/*.parquet (schemas/instruction.schema.json)")
    else:
        describe.append(f"-> {output_dir / DATA_DIR}/train/*.parquet (schemas/document.schema.json)")
    return Stage("write", tasks, describe, factory)


def _document_writer(recipe, output_dir: Path, filename: str) -> PipelineStep:
    """Parquet shards of stage-1 documents (schemas/document.schema.json), with a fixed Arrow schema."""
    out = recipe.output
    return DatasetParquetWriter(
        str(output_dir / DATA_DIR),
        output_filename=filename,
        adapter=checked_document_record if out.validate_records else unchecked_document_record,
        schema=arrow_schema(),
        compression=out.compression,
        max_file_size=out.max_shard_mb * 2**20,
    )


def _tokenize_stage(recipe, output_dir, tasks) -> Stage:
    spec = recipe.output.tokenize

    def factory() -> list[PipelineStep]:
        from datatrove.pipeline.readers import ParquetReader
        from datatrove.pipeline.tokens import DocumentTokenizer

        return [
            ParquetReader(str(output_dir / DATA_DIR), glob_pattern="train/*.parquet"),
            DocumentTokenizer(
                str(output_dir / "tokenized"),
                tokenizer_name_or_path=spec.tokenizer_file,
                eos_token=spec.eos_token,
                max_tokens_per_file=spec.max_tokens_per_file,
                shuffle_documents=spec.shuffle,
                seed=recipe.seed,
            ),
        ]

    return Stage(
        "tokenize",
        tasks,
        [f"tokenize with {spec.tokenizer_file} -> {output_dir / 'tokenized'} (datatrove .ds shards)"],
        factory,
    )
