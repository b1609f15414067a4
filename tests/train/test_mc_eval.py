"""Multiple-choice scoring by option log-likelihood: same numbers as a direct computation with transformers, the
official test split selected by PMID, and metrics over yes/no/maybe the official way."""

from __future__ import annotations

import json
import math

import pytest
import torch

from corpusforge.errors import InputError
from corpusforge.eval import mc_loglik
from tests.train.conftest import synthetic_pubmedqa


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(tiny_model_dir)


def direct_loglik(model, tokenizer, item, answer, max_length):
    """(summed log-probability, tokens) of `answer` after the item's prompt."""
    prompt = tokenizer.apply_chat_template(item.messages, tokenize=False, add_generation_prompt=True)
    context = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    whole = tokenizer(prompt + answer, add_special_tokens=False)["input_ids"]
    n = len(whole) - len(context)
    whole = whole[-max_length:]
    with torch.no_grad():
        logprobs = torch.log_softmax(model(input_ids=torch.tensor([whole])).logits[0].float(), -1)
    return sum(float(logprobs[i - 1, whole[i]]) for i in range(len(whole) - n, len(whole))), n


@pytest.mark.parametrize("rank_by", ["perplexity", "loglikelihood"])
def test_scores_equal_a_direct_computation(model_and_tokenizer, rank_by):
    """Each option: its forms ("A) yes", "A", "yes", "Yes") scored one by one, normalized or summed, log-sum-exp."""
    model, tokenizer = model_and_tokenizer
    items = mc_loglik.items_from_records(
        mc_loglik.pubmedqa_record(i, i.final_decision) for i in synthetic_pubmedqa(5, seed=9)
    )
    scores = mc_loglik.score_items(
        mc_loglik.hf_logits_fn(model), tokenizer, items, max_length=96, batch_size=4, rank_by=rank_by
    )
    for item, row in zip(items, scores):
        direct = []
        for key, text in item.options:
            forms = [f"{key}) {text}", key, text, text.capitalize()]
            values = []
            for form in forms:
                lp, n = direct_loglik(model, tokenizer, item, form, 96)
                values.append(lp / n if rank_by == "perplexity" else lp)
            direct.append(math.log(sum(math.exp(v) for v in values)))
        assert row == pytest.approx(direct, abs=1e-3)
    predicted = mc_loglik.predict(items, scores)
    assert all(
        predicted[item.id] == item.options[max(range(3), key=row.__getitem__)][0] for item, row in zip(items, scores)
    )


def test_report_is_over_option_texts_for_pubmedqa():
    items = mc_loglik.items_from_records(
        mc_loglik.pubmedqa_record(i, i.final_decision) for i in synthetic_pubmedqa(6, seed=3)
    )
    always_a = {item.id: "A" for item in items}
    report = mc_loglik.report(items, always_a)
    assert report.labels == ["yes", "no", "maybe"]
    gold_yes = sum(item.answer == "A" for item in items)
    assert report.accuracy == pytest.approx(gold_yes / 6)


def test_records_without_mc_or_prompt_are_rejected_with_their_location():
    item = synthetic_pubmedqa(1, seed=1)[0]
    record = mc_loglik.pubmedqa_record(item, item.final_decision)
    with pytest.raises(InputError, match="row 0: field 'mc'"):
        mc_loglik.items_from_records([{**record, "mc": None}], "stage3.jsonl")
    with pytest.raises(InputError, match="no prompt turn"):
        mc_loglik.items_from_records([{**record, "messages": record["messages"][1:]}], "stage3.jsonl")


def test_official_test_split_is_selected_by_pmid(tmp_path):
    items = synthetic_pubmedqa(6, seed=5)
    pqal = {
        it.pmid: {
            "QUESTION": it.question,
            "CONTEXTS": it.contexts,
            "LABELS": ["METHODS", "RESULTS"],
            "MESHES": [],
            "YEAR": "2001",
            "reasoning_required_pred": "yes",
            "reasoning_free_pred": "yes",
            "final_decision": it.final_decision,
            "LONG_ANSWER": "x",
        }
        for it in items
    }
    truth = {items[4].pmid: "no", items[1].pmid: "maybe"}  # the test labels come from this file
    (tmp_path / "ori_pqal.json").write_text(json.dumps(pqal))
    (tmp_path / "test_ground_truth.json").write_text(json.dumps(truth))
    test = mc_loglik.pubmedqa_test_items(tmp_path / "ori_pqal.json", tmp_path / "test_ground_truth.json")
    assert [(t.id, t.answer) for t in test] == sorted(
        [(f"pubmedqa:{items[4].pmid}", "B"), (f"pubmedqa:{items[1].pmid}", "C")]
    )
    (tmp_path / "test_ground_truth.json").write_text(json.dumps({**truth, "123": "yes"}))
    with pytest.raises(InputError, match="1 test PMIDs"):
        mc_loglik.pubmedqa_test_items(tmp_path / "ori_pqal.json", tmp_path / "test_ground_truth.json")


def test_options_are_scored_in_the_form_the_record_was_trained_on():
    item = synthetic_pubmedqa(1, seed=4)[0]
    as_option = mc_loglik.item_from_record(mc_loglik.pubmedqa_record(item, "no"))
    as_letter = mc_loglik.item_from_record(mc_loglik.pubmedqa_record(item, "no", target="letter"))
    assert mc_loglik.answer_text(as_option, "B", "no") == "B) no"
    assert mc_loglik.answer_text(as_letter, "B", "no") == "B"
    # and that is exactly the assistant turn the stage-3 build writes for the gold answer
    letter_record = mc_loglik.pubmedqa_record(item, "no", target="letter")
    assert letter_record["messages"][-1] == {"role": "assistant", "content": "B"}
    assert "QUESTION: " in letter_record["messages"][0]["content"]
