"""Labelling strategies as step generators: each yields a list of requests and receives their results.

Writing a strategy as a generator keeps it a readable top-to-bottom description of its steps, while the runner
drives hundreds of items' generators in lockstep, so every step of every item in a wave goes to the backend as one
batch (and VoC's three option explanations, which share the item prefix, run side by side in the engine).

- long-answer: question + abstract + long answer -> answer
- voc: (1) an explanation per option, as parallel requests; (2) a verification judging them; (3) the answer
- cot: reasoning, then the answer
- ppl: rank the options by the log-likelihood of what the model would write for each (no generation)
Every answer step ends on one of the options or on a counted reason (empty, unparseable, prompt_too_long, ...).
CoT and VoC take the label their reasoning states (corpusforge/label/stated.py); the constrained answer request is
still asked, and decides only where the reasoning states none: where both exist and differ, the outcome keeps both
and is a counted disagreement. Free-text steps cut at max_tokens or ending in a repetition loop are counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field

from corpusforge.eval.option_scoring import option_scores, options_forms
from corpusforge.label.config import LabelJob
from corpusforge.label.items import LabelItem
from corpusforge.label.parsing import normalize, parse_answer
from corpusforge.label.prompts import PromptBook
from corpusforge.label.stated import stated_answer
from corpusforge.llm.prompts import Prompt, continue_conversation, user
from corpusforge.llm.repetition import repetition_loop
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
    stated_key: str | None = None  # cot/voc: the answer the reasoning states, if any
    constrained_key: str | None = None  # the answer of the answer request (constrained unless configured not)
    label_source: str | None = None  # stated | constrained (the answer request) | scored (ppl)
    generations: int = 0  # free-text steps (explanations, verification, reasoning)
    truncated: int = 0  # ... of them cut at max_tokens
    repetition_loops: int = 0  # ... of them ending in (or full of) repeated text

    @property
    def disagreement(self) -> bool:
        """The reasoning states one answer and the answer request gave another."""
        return (
            self.stated_key is not None
            and self.constrained_key is not None
            and self.stated_key != self.constrained_key
        )

    def count_generation(self, result: GenerateResult) -> None:
        self.generations += 1
        self.truncated += int(result.finish_reason == "length")
        self.repetition_loops += int(repetition_loop(result.text))


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
        outcome.count_generation(result)
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
    the step's text is kept in `outcome.steps`, and a failed step leaves the item unlabeled.

    The label is the answer the text states; the answer request decides only when it states none."""
    [result] = yield [ctx.generate(prompt, max_tokens, outcome.strategy)]
    if result.error:
        return _unlabeled(outcome, result.error)
    outcome.steps.append(StepText(step, None, 0, result.text))
    outcome.count_generation(result)
    outcome.stated_key = stated_answer(result.text, ctx.options)
    answer_prompt = continue_conversation(prompt, result.text.strip(), ctx.book.render(answer_template, **variables))
    yield from answer_step(answer_prompt, ctx, outcome)
    if outcome.stated_key is not None:  # what the model concluded, whatever the answer request returned
        outcome.key = outcome.stated_key
        outcome.label_source = "stated"
        outcome.unlabeled_reason = None
    return outcome


def ppl(item: LabelItem, ctx: StrategyContext) -> StrategyRun:
    """PPL ranking of what the model would write: every option in the asked form ("A) yes") and the forms a chat
    model uses ("A", "yes", "Yes"), combined per option by the scoring `corpusforge eval` uses."""
    outcome = StrategyOutcome("ppl", ctx.hashes["ppl"], label_source="scored")
    prompt = user(ctx.book.render("ppl.jinja", **ctx.variables(item)))
    forms = options_forms([(o.key, o.text) for o in ctx.options])
    # after a plain-text prompt the answer follows a space; in a chat the assistant turn starts with it
    lead = "" if ctx.job.task.chat else " "
    continuations = tuple(lead + form for option_forms in forms for form in option_forms)
    request = ScoreRequest(prompt, continuations, template_hash=ctx.hashes["ppl"])
    [scored] = yield [request]
    assert isinstance(scored, ScoreResult)
    outcome.attempts = 1
    if scored.error:
        return _unlabeled(outcome, scored.error)
    values = option_scores(forms, scored.logprobs, scored.token_counts, ctx.job.ppl.rank_by)
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
            outcome.key = outcome.constrained_key = parsed.key
            outcome.label_source = "constrained"
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
