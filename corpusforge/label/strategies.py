"""Labelling strategies as step generators: each yields a list of requests and receives their results.

Writing a strategy as a generator keeps it a readable top-to-bottom description of its steps, while the runner
drives hundreds of items' generators in lockstep, so every step of every item in a wave goes to the backend as one
batch (and VoC's three option explanations, which share the item prefix, run side by side in the engine).

- long-answer: question + abstract + long answer -> answer
- voc: (1) an explanation per option, as parallel requests; (2) a verification judging them; (3) the answer
- cot: reasoning, then the answer
- ppl: rank the options by the log-likelihood of their text after the prompt (no generation)
Every answer step ends on one of the options or on a counted reason (empty, unparseable, prompt_too_long, ...).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field

from corpusforge.label.config import LabelJob
from corpusforge.label.items import LabelItem
from corpusforge.label.parsing import normalize, parse_answer
from corpusforge.label.prompts import PromptBook
from corpusforge.llm.prompts import Prompt, continue_conversation, user
from corpusforge.llm.requests import GenerateRequest, GenerateResult, Request, Result, ScoreRequest, ScoreResult


@dataclass
class StepText:
    step: str  # explain / verify / reason / answer
    option: str | None  # the option key an explanation argues for
    attempt: int
    text: str


@dataclass
class StrategyOutcome:
    strategy: str
    template_hash: str
    key: str | None = None
    option_probs: dict[str, float] | None = None  # option key -> probability, normalized over the options
    scores: dict[str, float] | None = None  # ppl: option key -> ranking score (higher is better)
    steps: list[StepText] = field(default_factory=list)
    raw_answer: str | None = None
    attempts: int = 0
    parse_failures: int = 0  # answers that did not parse (each was retried or left the item unlabeled)
    unlabeled_reason: str | None = None


StrategyRun = Generator[list[Request], list[Result], StrategyOutcome]


class StrategyContext:
    """Everything a strategy needs besides the item: the job, the options, the templates and their hashes."""

    def __init__(self, job: LabelJob, book: PromptBook):
        self.job = job
        self.book = book
        self.options = job.task.options
        self.keys = tuple(o.key for o in self.options)
        self.hashes = {s: book.strategy_hash(s) for s in job.strategies}

    def variables(self, item: LabelItem) -> dict:
        keys = [o.key for o in self.options]
        return {
            "context": item.context,
            "long_answer": item.long_answer if self.job.task.use_long_answer else "",
            "question": item.question,
            "options": [{"key": o.key, "text": o.text} for o in self.options],
            "keys": ", ".join(keys[:-1]) + " or " + keys[-1],
            "texts": "/".join(o.text for o in self.options),
        }

    def generate(self, prompt: Prompt, max_tokens: int, strategy: str) -> GenerateRequest:
        s = self.job.sampling
        return GenerateRequest(
            prompt=prompt,
            max_tokens=max_tokens,
            temperature=s.temperature,
            top_p=s.top_p,
            seed=s.seed,
            template_hash=self.hashes[strategy],
        )


def run_strategy(name: str, item: LabelItem, ctx: StrategyContext) -> StrategyRun:
    return STRATEGIES[name](item, ctx)


def long_answer(item: LabelItem, ctx: StrategyContext) -> StrategyRun:
    outcome = StrategyOutcome("long-answer", ctx.hashes["long-answer"])
    prompt = user(ctx.book.render("long_answer.jinja", **ctx.variables(item)))
    yield from answer_step(prompt, ctx, outcome)
    return outcome


def voc(item: LabelItem, ctx: StrategyContext) -> StrategyRun:
    outcome = StrategyOutcome("voc", ctx.hashes["voc"])
    variables = ctx.variables(item)
    max_tokens = ctx.job.sampling.max_tokens
    explain_prompts = [
        user(ctx.book.render("voc_explain.jinja", option=option, **variables)) for option in variables["options"]
    ]
    explained = yield [ctx.generate(p, max_tokens.explain, "voc") for p in explain_prompts]
    if failed := _first_error(explained):
        return _unlabeled(outcome, failed)
    for option, result in zip(ctx.options, explained):
        outcome.steps.append(StepText("explain", option.key, 0, result.text))
    explanations = [
        {"key": o.key, "text": o.text, "explanation": r.text.strip()} for o, r in zip(ctx.options, explained)
    ]
    verify_prompt = user(ctx.book.render("voc_verify.jinja", explanations=explanations, **variables))
    return (
        yield from _text_then_answer(
            verify_prompt, max_tokens.verify, "verify", "voc_answer.jinja", variables, ctx, outcome
        )
    )


def cot(item: LabelItem, ctx: StrategyContext) -> StrategyRun:
    outcome = StrategyOutcome("cot", ctx.hashes["cot"])
    variables = ctx.variables(item)
    reason_prompt = user(ctx.book.render("cot_reason.jinja", **variables))
    max_tokens = ctx.job.sampling.max_tokens.reason
    return (
        yield from _text_then_answer(reason_prompt, max_tokens, "reason", "cot_answer.jinja", variables, ctx, outcome)
    )


def _text_then_answer(
    prompt: Prompt,
    max_tokens: int,
    step: str,
    answer_template: str,
    variables: dict,
    ctx: StrategyContext,
    outcome: StrategyOutcome,
) -> StrategyRun:
    """One free-text step (VoC's verification, CoT's reasoning), then the answer asked in the same conversation:
    the step's text is kept in `outcome.steps`, and a failed step leaves the item unlabeled."""
    [result] = yield [ctx.generate(prompt, max_tokens, outcome.strategy)]
    if result.error:
        return _unlabeled(outcome, result.error)
    outcome.steps.append(StepText(step, None, 0, result.text))
    answer_prompt = continue_conversation(prompt, result.text.strip(), ctx.book.render(answer_template, **variables))
    yield from answer_step(answer_prompt, ctx, outcome)
    return outcome


def ppl(item: LabelItem, ctx: StrategyContext) -> StrategyRun:
    """The paper's post-hoc PPL ranking: the option whose text is most likely after the prompt wins."""
    outcome = StrategyOutcome("ppl", ctx.hashes["ppl"])
    prompt = user(ctx.book.render("ppl.jinja", **ctx.variables(item)))
    # after a plain-text prompt ending in "Answer:" the option follows a space; in a chat the assistant turn
    # starts with it (the lm-evaluation-harness convention in both cases)
    lead = "" if ctx.job.task.chat else " "
    request = ScoreRequest(prompt, tuple(lead + o.text for o in ctx.options), template_hash=ctx.hashes["ppl"])
    [scored] = yield [request]
    assert isinstance(scored, ScoreResult)
    outcome.attempts = 1
    if scored.error:
        return _unlabeled(outcome, scored.error)
    if ctx.job.ppl.rank_by == "perplexity":
        values = [lp / max(n, 1) for lp, n in zip(scored.logprobs, scored.token_counts)]
    else:
        values = list(scored.logprobs)
    outcome.scores = dict(zip(ctx.keys, values))
    outcome.option_probs = normalize(outcome.scores)
    outcome.key = max(ctx.keys, key=lambda k: outcome.scores[k])
    return outcome


def answer_step(prompt: Prompt, ctx: StrategyContext, outcome: StrategyOutcome) -> Generator:
    """Ask for the answer; retry under the choice constraint while it does not parse; then record it unlabeled.

    The first try is constrained unless `answer.constrained` is false. Retries are always constrained, and after a
    constrained try that still did not parse (a server that ignores constraints) they sample with
    `answer.retry_temperature` and a new seed, so a retry is never the same request as the try before it.
    """
    spec = ctx.job.answer
    constrained = spec.constrained
    previous_constrained = False
    for attempt in range(1 + spec.max_retries):
        base = ctx.generate(prompt, ctx.job.sampling.max_tokens.answer, outcome.strategy)
        request = GenerateRequest(
            prompt=prompt,
            max_tokens=base.max_tokens,
            temperature=spec.retry_temperature if previous_constrained else base.temperature,
            top_p=base.top_p,
            seed=base.seed + attempt,
            choices=ctx.keys if constrained else None,
            score_choices=ctx.keys,
            template_hash=base.template_hash,
        )
        [result] = yield [request]
        assert isinstance(result, GenerateResult)
        outcome.attempts = attempt + 1
        if result.error:
            outcome.raw_answer = result.text or None  # what came back instead of an answer (e.g. the HTTP error)
            return _unlabeled(outcome, result.error)
        outcome.steps.append(StepText("answer", None, attempt, result.text))
        outcome.raw_answer = result.text
        if result.choice_logprobs:
            outcome.option_probs = normalize({k: result.choice_logprobs[k] for k in ctx.keys})
        parsed = parse_answer(result.text, ctx.options)
        if parsed.key is not None:
            outcome.key = parsed.key
            outcome.unlabeled_reason = None
            return outcome
        outcome.parse_failures += 1
        outcome.unlabeled_reason = parsed.reason
        previous_constrained = constrained
        constrained = True
    return outcome


def _first_error(results: list[Result]) -> str | None:
    return next((r.error for r in results if r.error), None)


def _unlabeled(outcome: StrategyOutcome, reason: str) -> StrategyOutcome:
    outcome.key = None
    outcome.unlabeled_reason = reason
    return outcome


STRATEGIES = {"long-answer": long_answer, "voc": voc, "cot": cot, "ppl": ppl}


@dataclass
class Vote:
    key: str | None
    counts: dict[str, int]
    agreement: float | None  # fraction of the strategies whose label is the winner
    confidence: float | None  # mean probability the strategies gave the winner


def vote(outcomes: list[StrategyOutcome], keys: tuple[str, ...]) -> Vote:
    """Majority over the strategies' labels; a tie goes to the label with the higher summed probability.

    An unlabeled strategy counts as disagreeing, so agreement is over all strategies that ran.
    """
    counts = Counter(o.key for o in outcomes if o.key is not None)
    all_counts = {k: counts.get(k, 0) for k in keys}
    if not counts:
        return Vote(None, all_counts, None, None)
    top = max(counts.values())
    tied = [k for k in keys if counts.get(k, 0) == top]

    def mass(key: str) -> float:
        return sum((o.option_probs or {}).get(key, 0.0) for o in outcomes)

    winner = max(tied, key=mass)
    probs = [o.option_probs[winner] for o in outcomes if o.option_probs]
    confidence = sum(probs) / len(probs) if probs else None
    return Vote(winner, all_counts, top / len(outcomes), confidence)
