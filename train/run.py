"""Train one stage: `deepspeed train/run.py --config train/configs/<preset>.yaml [--set KEY=VALUE ...]`.

One loop, top to bottom: config -> process group -> tokenizer/model -> method -> data -> DeepSpeed engine ->
(resume) -> steps with logging, evaluation and checkpoints -> export. Logs come from rank 0 only; rank 0 also
appends every logged step to OUTPUT/metrics.jsonl.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable without an install
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from corpusforge.config import dump_yaml  # noqa: E402
from train.config import TrainConfig, load_train_config  # noqa: E402

log = logging.getLogger("train")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the stage's YAML config")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--local_rank", "--local-rank", type=int, default=None, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def load_tokenizer(config: TrainConfig):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(
        config.model.tokenizer or config.model.path, trust_remote_code=config.model.trust_remote_code
    )
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_lm(config: TrainConfig):
    import torch
    from transformers import AutoModelForCausalLM

    kwargs = {"dtype": getattr(torch, config.model.dtype), "trust_remote_code": config.model.trust_remote_code}
    if config.model.attn_implementation:
        kwargs["attn_implementation"] = config.model.attn_implementation
    lm = AutoModelForCausalLM.from_pretrained(config.model.path, **kwargs)
    if config.model.gradient_checkpointing:
        lm.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        lm.config.use_cache = False
    return lm


def param_groups(module, weight_decay: float) -> list[dict]:
    """Decay matrices; never biases, norms or 1-d gates."""
    decay, no_decay = [], []
    for p in module.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def total_steps(config: TrainConfig, steps_per_epoch: int) -> int:
    """train.max_steps when set (it overrides epochs, as in transformers), else epochs x steps per epoch."""
    return config.train.max_steps or math.ceil(config.train.epochs * steps_per_epoch)


@contextlib.contextmanager
def main_process_first(rank: int, world: int):
    import torch

    if world > 1 and rank != 0:
        torch.distributed.barrier()
    yield
    if world > 1 and rank == 0:
        torch.distributed.barrier()


def check_task_ids(config: TrainConfig, split) -> None:
    """C-Poly allocates one row of its matrix per task id: every id in the data must have one."""
    from corpusforge.errors import ConfigError

    ids = sorted({e["task_id"] for e in split.examples})
    if ids and (ids[0] < 0 or ids[-1] >= config.method.n_tasks):
        raise ConfigError(
            f"method.n_tasks: {config.method.n_tasks}, but {config.data.path} has task ids {ids} (need 0..n_tasks-1)"
        )
    log.info(f"task ids in the data: {ids}")


class MetricsLog:
    """Rank 0's record of every logged step (JSON lines), next to the human log.

    A resumed run first drops what was logged after its checkpoint (and a line cut short by a kill), so the
    file has one training record per step however often the run was stopped and resumed.
    """

    def __init__(self, output_dir: Path, rank: int):
        self.path = output_dir / "metrics.jsonl" if rank == 0 else None

    def write(self, record: dict) -> None:
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")

    def truncate_after(self, step: int) -> int:
        """Keep the records of steps <= `step`; returns how many were dropped."""
        if self.path is None or not self.path.is_file():
            return 0
        kept, dropped = [], 0
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                dropped += 1
                continue
            if isinstance(record, dict) and isinstance(record.get("step"), int) and record["step"] <= step:
                kept.append(line)
            else:
                dropped += 1
        if dropped:
            from corpusforge.output.dataset_dir import write_text_atomic

            write_text_atomic(self.path, "".join(line + "\n" for line in kept))
        return dropped


def monitor(engine, group: str, values: dict, step: int) -> None:
    """Send numbers to DeepSpeed's monitors (tensorboard / wandb / csv_monitor / comet) when the config enables any."""
    if engine.monitor.enabled:
        skip = ("step", "epoch", "time", "tokens", "eval_tokens", "mc_n")
        events = [(f"{group}/{k}", float(v), step) for k, v in values.items()
                  if k not in skip and isinstance(v, (int, float))]  # fmt: skip
        engine.monitor.write_events(events)


def write_loss_plot(output_dir: Path) -> Path | None:
    """OUTPUT/loss.png from metrics.jsonl at the end of every run; a failure to draw never fails the run."""
    try:
        from corpusforge.report.train_page import write_loss_plot as draw

        return draw(output_dir)
    except Exception as e:  # noqa: BLE001 - the model is trained and saved; a missing picture is only logged
        log.warning(f"no loss plot: {type(e).__name__}: {e}")
        return None


def main(argv: list[str] | None = None) -> int:
    import os

    from corpusforge.runtime.progress import Heartbeat
    from train.lifecycle import LOCK_ENV, StopFlag, startup_status

    stop = StopFlag().install()  # a stop during start-up ends the process at once: nothing to save yet
    startup = (
        Heartbeat("training start-up", phase="loading the config", phase_fn=startup_status, enabled=None).start()
        if os.environ.get("RANK", "0") == "0"
        else None
    )
    args = parse_args(argv)
    config = load_train_config(args.config, args.overrides)
    config_yaml = dump_yaml(config)
    if not os.environ.get(LOCK_ENV):  # started directly, not by `corpusforge train` (which checked already)
        from corpusforge.errors import ConfigError
        from train.preflight import check_paths

        problems = check_paths(config)
        if problems:
            raise ConfigError(problems, source=args.config)

    from train.runtime import device_for, init_distributed, prepare_environment, setup_logging

    accelerator = prepare_environment(config.runtime)
    _phase(startup, "importing DeepSpeed")
    import deepspeed  # noqa: F401  (after DS_ACCELERATOR is set; the import alone takes seconds)

    _phase(startup, "starting the process group")
    rank, world, local_rank = init_distributed(config.runtime, accelerator)
    setup_logging(rank)
    from train.config import gradient_accumulation, resolved_deepspeed_config
    from train.lifecycle import hold_lock

    ds_config = resolved_deepspeed_config(config, world)  # a batch that does not split over `world` fails here
    accumulation = gradient_accumulation(config, world)
    device = device_for(accelerator, local_rank)
    output_dir = Path(config.train.output_dir)
    lock = hold_lock(output_dir, rank)  # None under `corpusforge train`, which holds it for the whole run
    try:
        return _train(config, config_yaml, stop, startup, rank, world, device, accumulation, ds_config, output_dir)
    finally:
        if startup is not None:
            startup.stop()
        if lock is not None:
            lock.release()


def _phase(heartbeat, phase: str) -> None:
    if heartbeat is not None:
        heartbeat.update(phase=phase)
    log.info(f"start-up: {phase}")


def _train(config, config_yaml, stop, startup, rank, world, device, accumulation, ds_config, output_dir) -> int:
    import deepspeed
    import torch

    from corpusforge.runtime.progress import Heartbeat
    from train.config import zero_stage
    from train.lifecycle import EXIT_STOPPED

    output_dir.mkdir(parents=True, exist_ok=True)
    if rank == 0:
        (output_dir / "train_config.yaml").write_text(config_yaml, encoding="utf-8")
    log.info(f"stage {config.stage}, method {config.method.name}, {world} process(es) on {device.type}")

    from train import checkpointing
    from train.data import load_split_data, make_schedule
    from train.evaluate import eval_loss, load_mc_items, mc_eval
    from train.export import export_model
    from train.methods import build_module
    from train.methods.base import trainable_summary
    from train.schedule import build_scheduler

    torch.manual_seed(config.train.seed)
    _phase(startup, f"loading the model {config.model.path}")
    tokenizer = load_tokenizer(config)
    module = build_module(load_lm(config), config.method)
    log.info(trainable_summary(module))

    _phase(startup, f"loading the data {config.data.path}")
    with_task_ids = config.method.name == "cpoly"
    with main_process_first(rank, world):  # rank 0 tokenizes and fills the datasets cache; the others reuse it
        train_data = load_split_data(
            config, tokenizer, config.data.train_split, config.data.max_examples, with_task_ids
        )
        eval_data = None
        if config.data.eval_split:
            eval_data = load_split_data(
                config, tokenizer, config.data.eval_split, config.data.eval_max_examples, with_task_ids
            )
    log.info(f"train data: {train_data.report}")
    if eval_data is not None:
        log.info(f"eval data: {eval_data.report}")
    if with_task_ids:
        check_task_ids(config, train_data)
    mc_items = load_mc_items(config.mc_eval) if config.mc_eval else None
    if rank == 0:
        report = {"train": train_data.report, "eval": eval_data.report if eval_data else None}
        (output_dir / "data_report.json").write_text(json.dumps(report, indent=2) + "\n")

    schedule = make_schedule(train_data, config, world, accumulation)
    if schedule.steps_per_epoch == 0:
        from corpusforge.errors import InputError

        raise InputError(
            f"{config.data.path}: {len(train_data.rows)} rows are fewer than one global batch ({config.batch.global_size})"
        )
    n_steps = total_steps(config, schedule.steps_per_epoch)
    log.info(
        f"{len(train_data.rows)} rows, {schedule.steps_per_epoch} steps/epoch, {n_steps} steps; global batch "
        f"{config.batch.global_size} = micro {config.batch.micro_size} x accumulation {accumulation} x {world}"
    )

    _phase(startup, "initializing DeepSpeed")
    groups = param_groups(module, config.optimizer.weight_decay)
    optimizer = None
    if config.optimizer.impl == "torch":
        opt = config.optimizer
        optimizer = torch.optim.AdamW(groups, lr=opt.lr, betas=opt.betas, eps=opt.eps)
    engine, optimizer, _, scheduler = deepspeed.initialize(
        model=module,
        model_parameters=groups,
        optimizer=optimizer,
        config=ds_config,
        lr_scheduler=lambda opt: build_scheduler(opt, config.schedule, n_steps),  # stepped and saved by DeepSpeed
    )
    frozen = any(not p.requires_grad for p in module.parameters())

    step = 0
    if config.train.resume == "auto":
        _phase(startup, "loading the latest checkpoint")
        step = checkpointing.resume(engine, output_dir, rank, frozen)
    start_step = step
    metrics = MetricsLog(output_dir, rank)
    dropped = metrics.truncate_after(step)  # what a killed run logged after its last checkpoint is redone
    if dropped:
        log.info(f"metrics.jsonl: dropped {dropped} record(s) logged after step {step} (they are redone now)")

    def evaluate(at_step: int) -> None:
        results = {}
        if eval_data is not None:
            results.update(eval_loss(engine, eval_data, config.batch.micro_size, rank, world, device))
        if mc_items:
            results.update(mc_eval(engine, engine.module, tokenizer, mc_items, config.mc_eval, rank, world))
        if results:
            log.info(f"eval step {at_step}: {results}")
            metrics.write({"step": at_step, **results})
            monitor(engine, "Eval", results, at_step)

    def save(at_step: int) -> None:
        checkpointing.save(engine, output_dir, at_step, config_yaml, rank, config.train.keep_checkpoints, frozen)

    if startup is not None:
        startup.stop()
    stop.begin_training()  # from now on a stop request is honoured after the current step, with a checkpoint
    progress = Heartbeat("training", total=n_steps, unit="step", done=step, enabled=None if rank == 0 else False)
    progress.start()
    engine.train()
    epoch_batches, epoch_of_batches = None, -1
    tokens_seen, window_start = 0, time.perf_counter()
    saved_at = start_step if start_step else None
    try:
        while step < n_steps:
            epoch, in_epoch = divmod(step, schedule.steps_per_epoch)
            if epoch != epoch_of_batches:
                epoch_batches, epoch_of_batches = schedule.epoch_micro_batches(epoch), epoch
            parts_sum: dict[str, float] = {}
            for rows in schedule.step_micro_batches(epoch_batches, in_epoch, rank):
                batch, real_tokens, _ = train_data.collate(rows)
                batch = {k: v.to(device) for k, v in batch.items()}
                loss, parts = engine(**batch)
                engine.backward(loss)
                engine.step()
                tokens_seen += real_tokens
                for k, v in {"loss": loss.detach(), **parts}.items():
                    parts_sum[k] = parts_sum.get(k, 0.0) + float(v) / accumulation
            grad_norm = engine.get_global_grad_norm()  # None where DeepSpeed does not compute it
            step += 1
            progress.update(done=step)
            if step % config.train.log_every == 0 or step == n_steps:
                values = torch.tensor(list(parts_sum.values()), dtype=torch.float64, device=device)
                counted = torch.tensor([tokens_seen], dtype=torch.float64, device=device)
                if world > 1:
                    torch.distributed.all_reduce(values)
                    torch.distributed.all_reduce(counted)
                    values /= world
                elapsed = time.perf_counter() - window_start
                record = {"step": step, "epoch": epoch, **dict(zip(parts_sum, values.tolist()))}
                record.update(lr=scheduler.get_last_lr()[0], tokens_per_s=float(counted[0]) / max(elapsed, 1e-9))
                if grad_norm is not None:
                    record["grad_norm"] = float(grad_norm)
                record.update(tokens=int(counted[0]), time=time.time())
                shown = {k: v for k, v in record.items() if k not in ("tokens", "time")}
                log.info(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items()))
                metrics.write(record)
                monitor(engine, "Train", record, step)
                tokens_seen, window_start = 0, time.perf_counter()
            if config.train.eval_every and step % config.train.eval_every == 0 and step < n_steps:
                progress.update(phase="evaluating")
                evaluate(step)
                progress.update(phase="")
            if config.train.save_every and step % config.train.save_every == 0 and step < n_steps:
                save(step)
                saved_at = step
            if step < n_steps and stop.requested(world, device):
                if saved_at != step:
                    save(step)
                if rank == 0:
                    write_loss_plot(output_dir)
                log.info(
                    f"stopped at step {step}/{n_steps}: checkpoint {checkpointing.checkpoint_root(output_dir)}"
                    f"/step-{step} saved; rerun the same command to resume"
                )
                return EXIT_STOPPED
    finally:  # a last line with the totals, also when the run was shorter than one progress interval
        progress.stop(final=progress.line())

    if start_step < n_steps:  # else this run resumed from the final checkpoint: evaluated and saved already
        evaluate(step)
        save(step)
    if config.train.export:
        export_model(
            engine.module, config, tokenizer, output_dir / "export", rank, zero_stage(ds_config) == 3, config_yaml
        )
    if rank == 0:
        plot = write_loss_plot(output_dir)
        if plot is not None:
            log.info(f"loss plot: {plot}")
    log.info("done")
    return 0


def run_as_script() -> None:
    """Errors a user caused end as one line (as in the CLI); tracebacks only with --debug / CORPUSFORGE_DEBUG."""
    from corpusforge.errors import CorpusforgeError, debug_enabled, describe_library_error

    try:
        code = main()
    except CorpusforgeError as e:
        if debug_enabled():
            raise
        print(f"error: {e}", file=sys.stderr)
        code = {"ConfigError": 2, "InputError": 3}.get(type(e).__name__, 4)
    except Exception as e:
        message = None if debug_enabled() else describe_library_error(e)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        code = 1
    exit_now(code)


def exit_now(code: int) -> None:
    """Exit without Python's teardown of torch, DeepSpeed and datasets, which takes 3-7 s and does nothing useful
    here: every output file is closed, the logs are flushed and the process group is destroyed first."""
    import os

    torch = sys.modules.get("torch")
    if torch is not None and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
        if code == 0:
            from train.runtime import remove_own_shm_buffer

            remove_own_shm_buffer()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run_as_script()
