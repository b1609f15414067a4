"""The n-gram index and decontam.pubmedqa, on inline text, the bundled samples and (when present) the real PQA-L."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datatrove.data import Document

from corpusforge.decontam import NGramIndex, normalize_tokens
from corpusforge.errors import InputError
from corpusforge.pipeline.readers.pubmed import PubMedXMLReader
from corpusforge.pipeline.readers.structured import QAReader
from corpusforge.pipeline.steps.decontam import PubMedQADecontamination, document_pmid

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
PQAL_SAMPLE = SAMPLES / "pubmedqa" / "ori_pqal_sample.json"


def stats_of(step) -> dict:
    return {k: (v["total"] if isinstance(v, dict) else v) for k, v in step.stats.to_dict()["stats"].items()}


def doc(text: str, pmid: str | None = None, doc_id: str = "pubmed:new") -> Document:
    provenance = {"file": "x"} | ({"pmid": pmid} if pmid else {})
    return Document(text=text, id=doc_id, metadata={"provenance": provenance, "transforms": []})


# ---- tokens and the index -----------------------------------------------------------------------------------------
def test_normalize_tokens_latin_words_and_cjk_characters():
    assert normalize_tokens("Ｔｙｐｅ-2 Diabetes, (HbA1c ≥ 6.5%)!") == ["type", "2", "diabetes", "hba1c", "6", "5"]
    assert normalize_tokens("2型糖尿病，首选二甲双胍。") == [
        "2",
        "型",
        "糖",
        "尿",
        "病",
        "首",
        "选",
        "二",
        "甲",
        "双",
        "胍",
    ]


def test_index_matches_overlap_regardless_of_case_and_punctuation():
    reference = "The lace plant produces perforations in its leaves through programmed cell death in areoles."
    index = NGramIndex(n=8)
    assert index.add(reference, "ref1") == len(normalize_tokens(reference)) - 8 + 1
    pasted = "Intro text. THE LACE PLANT produces perforations, in its leaves -- through programmed cell death!"
    found = index.match(pasted)
    assert found is not None and found.ref_id == "ref1" and found.ngrams == 5
    assert index.first_match("The lace plant is an aquatic plant from Madagascar with perforated leaves.") is None
    assert index.count_matches(pasted) == 5


def test_first_match_is_in_reading_order_and_index_stays_lean():
    index = NGramIndex(n=3)
    index.add("alpha beta gamma delta", "a")
    index.add("one two three four", "b")
    assert index.first_match("x one two three y alpha beta gamma") == "b"
    assert len(index) == 4 and index.nbytes == 4 * 12  # 8-byte hash + 4-byte reference per n-gram
    index.add("alpha beta gamma", "dup")  # an n-gram already indexed keeps its first reference
    assert len(index) == 4 and index.first_match("alpha beta gamma") == "a"


def test_short_references_match_only_as_a_whole_and_tiny_ones_are_skipped():
    index = NGramIndex(n=13, min_ref_tokens=3)
    index.add("aspirin irreversibly inhibits cyclooxygenase", "short")
    assert index.add("yes no", "tiny") == 0 and index.skipped_refs == 1
    assert index.first_match("We know aspirin irreversibly inhibits cyclooxygenase in platelets.") == "short"
    assert index.first_match("aspirin inhibits cyclooxygenase irreversibly") is None
    assert index.first_match("yes no maybe") is None


def test_empty_index_and_empty_text():
    assert NGramIndex().first_match("anything at all here") is None
    index = NGramIndex(n=2)
    index.add("a b c", "r")
    assert index.first_match("") is None


# ---- the step -----------------------------------------------------------------------------------------------------
def test_document_pmid_sources():
    assert document_pmid(doc("t", pmid="123")) == "123"
    assert document_pmid(Document(text="t", id="pubmed:456", metadata={})) == "456"
    assert document_pmid(Document(text="t", id="qa:file.jsonl:3", metadata={})) is None


def test_sample_corpus_drops_the_pqal_article_and_the_pasted_context(tmp_path):
    reader = PubMedXMLReader(
        path=str(SAMPLES / "pubmed" / "pubmed_sample.xml.gz"), source="pubmed", quarantine_dir=tmp_path / "q"
    )
    step = PubMedQADecontamination(pqal_path=str(PQAL_SAMPLE))
    kept = list(step.run(reader.run()))
    stats = stats_of(step)
    assert stats["dropped_pqal_pmid"] == 1 and stats["dropped_pqal_ngram"] == 1
    assert stats["total"] == 25 and stats["forwarded"] == len(kept) == 23
    kept_ids = {d.id for d in kept}
    assert "pubmed:39100003" not in kept_ids and "pubmed:38800017" not in kept_ids


def test_id_and_ngram_checks_can_be_switched_off(tmp_path):
    pqal = json.loads(PQAL_SAMPLE.read_text())
    pmid, item = next(iter(pqal.items()))
    same_article = doc("Title\n\n" + " ".join(item["CONTEXTS"]), pmid=pmid)
    only_ids = PubMedQADecontamination(pqal_path=str(PQAL_SAMPLE), check_ngrams=False)
    assert only_ids.filter(same_article) == (False, "pqal_pmid")
    assert only_ids.filter(doc(" ".join(item["CONTEXTS"]), pmid="1")) is True
    only_ngrams = PubMedQADecontamination(pqal_path=str(PQAL_SAMPLE), check_ids=False)
    assert only_ngrams.filter(doc("Unrelated words about knees and elbows.", pmid=pmid)) is True
    pasted = doc("Summary for trainees. " + item["LONG_ANSWER"] + " More text follows here.", pmid="2")
    assert only_ngrams.filter(pasted) == (False, "pqal_ngram")
    assert pasted.metadata["decontam_match"]["ref"] == f"{pmid}:long_answer"


def test_qa_and_other_sources_are_not_dropped_by_accident(tmp_path):
    reader = QAReader(path=str(SAMPLES / "qa" / "qa_sample.jsonl"), source="qa", quarantine_dir=tmp_path / "q")
    step = PubMedQADecontamination(pqal_path=str(PQAL_SAMPLE))
    assert len(list(step.run(reader.run()))) == 6


def test_missing_or_malformed_pqal_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        PubMedQADecontamination(pqal_path=str(tmp_path / "nope.json"))
    bad = tmp_path / "ori_pqal.json"
    bad.write_text(json.dumps({"123": {"CONTEXTS": ["c"], "final_decision": "yes"}}))  # no QUESTION
    step = PubMedQADecontamination(pqal_path=str(bad))  # read lazily, once per task
    with pytest.raises(InputError, match=str(bad)):
        step.filter(doc("text"))
    bad.write_text("{not json")
    with pytest.raises(InputError, match=str(bad)):
        PubMedQADecontamination(pqal_path=str(bad)).filter(doc("text"))


# ---- the real PQA-L (skipped when ../shared/data/pubmedqa is absent) ----------------------------------------------
@pytest.mark.realdata
def test_real_pqal_every_pmid_and_pasted_contexts_are_removed(real_pubmedqa, tmp_path):
    pqal_path = real_pubmedqa / "ori_pqal.json"
    pqal = json.loads(pqal_path.read_text())
    assert len(pqal) == 1000
    step = PubMedQADecontamination(pqal_path=str(pqal_path))

    same_pmid = [doc(f"An unrelated title {i}\n\nUnrelated abstract text.", pmid=p) for i, p in enumerate(pqal)]
    assert list(step.run(iter(same_pmid))) == []
    assert stats_of(step)["dropped_pqal_pmid"] == 1000

    # each PQA-L article's longest context section, pasted under a new PMID with text around it
    pasted = [
        doc(f"Reprint {i}.\n\n" + max(item["CONTEXTS"], key=len) + " Commentary follows.", pmid=str(90000000 + i))
        for i, item in enumerate(pqal.values())
    ]
    step = PubMedQADecontamination(pqal_path=str(pqal_path))
    assert list(step.run(iter(pasted))) == []
    assert stats_of(step)["dropped_pqal_ngram"] == 1000

    # unrelated abstracts survive: the bundled PubMed sample minus its two planted PQA-L copies
    reader = PubMedXMLReader(
        path=str(SAMPLES / "pubmed" / "pubmed_sample.xml.gz"), source="pubmed", quarantine_dir=tmp_path / "q"
    )
    unrelated = [d for d in reader.run() if d.id not in {"pubmed:39100003", "pubmed:38800017"}]
    step = PubMedQADecontamination(pqal_path=str(pqal_path))
    assert len(list(step.run(iter(unrelated)))) == len(unrelated) == 23
