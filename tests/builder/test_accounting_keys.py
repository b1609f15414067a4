"""Two steps of the same type in one source keep their own details in the manifest, and the counts still add up."""

from corpusforge.builder.accounting import account_source
from corpusforge.builder.plan import Stage, StepInfo


def test_two_steps_of_one_type_keep_their_own_details_and_drops_add_up():
    steps = [
        StepInfo("read.jsonl", "reader", "records"),
        StepInfo("llm.generate", "step"),
        StepInfo("decontam.pubmedqa", "filter"),
        StepInfo("llm.generate", "step"),
        StepInfo("decontam.pubmedqa", "filter"),
        StepInfo("count:source_out", "count"),
        StepInfo("write", "write"),
    ]
    stats = [
        {"records": 10, "documents": 10},
        {"documents": 10, "accepted": 9, "fallback": 1},
        {"documents": 10, "dropped": 2, "dropped_pqal_pmid": 2, "forwarded": 8},
        {"documents": 8, "accepted": 5, "fallback": 3},
        {"documents": 8, "dropped": 1, "dropped_pqal_ngram": 1, "forwarded": 7},
        {"source_out/web": 7},
        {},
    ]
    account = account_source(Stage("source/web", 1, [], list, source="web", steps=steps), stats, {})
    assert account.details["llm.generate"] == {"accepted": 9, "fallback": 1}
    assert account.details["llm.generate #2"] == {"accepted": 5, "fallback": 3}
    assert account.decontamination["decontam.pubmedqa"] == {"pqal_pmid": 2}
    assert account.decontamination["decontam.pubmedqa #2"] == {"pqal_ngram": 1}
    assert account.kept == 7 and sum(account.segments[0].dropped.values()) == 3
