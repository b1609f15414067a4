"""The checks LLM steps apply to what a model wrote (no model needed)."""

from __future__ import annotations

import json

import pytest

from corpusforge.pipeline.steps.llm.checks import (
    check_exam_rewrite,
    check_kg_rewrite,
    check_qa_pairs,
    is_question,
    parse_json,
    qa_schema,
    schema_validator,
)
from corpusforge.pipeline.steps.llm.faithfulness import Given, copied_draft, name_like_words, unsupported_numbers


@pytest.mark.parametrize(
    ("text", "answer", "reason"),
    [
        ("Metformin is the first-line drug for type 2 diabetes.", "Metformin", None),
        ("Night blindness follows a deficiency of vitamin A. It is common.", "vitamin A", None),
        ("二甲双胍是2型糖尿病的一线治疗药物。", "二甲双胍", None),
        ("The newborn is Rh(D) positive: give anti-D immunoglobulin.", "Rh(D) positive", None),  # the answer's "(D)"
        (
            "Benzodiazepine intoxication explains the findings.",
            'Benzodiazepine intoxication\n"',
            None,
        ),  # MedQA residue
        ("Insulin is first-line.", "Metformin", "missing_answer"),
        ("A. Metformin is first-line.", "Metformin", "option_letter"),
        ("The answer is B: Metformin.", "Metformin", "option_letter"),
        ("正确答案是B，二甲双胍。", "二甲双胍", "option_letter"),
        ("Which of the following is first-line? Metformin.", "Metformin", "which_of_the_following"),
        ("下列药物中二甲双胍是一线药物。", "二甲双胍", "which_of_the_following"),
        ("Is Metformin first-line?", "Metformin", "question_mark"),
        ("二甲双胍是一线药物吗？", "二甲双胍", "question_mark"),
        ("```\n  \n```", "Metformin", "empty_output"),
    ],
)
def test_exam_rewrite_check(text, answer, reason):
    assert check_exam_rewrite(text, answer).reason == reason


def test_kg_rewrite_keeps_every_entity_ignoring_case_width_and_spacing():
    entities = ["Type 2 diabetes", "Metformin", "2型糖尿病"]
    assert check_kg_rewrite("Paragraph: METFORMIN treats type 2  diabetes; 2型 糖尿病 too.", entities).ok
    assert check_kg_rewrite("Metformin treats type 2 diabetes.", entities).reason == "lost_entity"


def test_qa_pairs_are_parsed_validated_and_filtered_one_by_one():
    validate = schema_validator(qa_schema())
    good = {
        "question": "What lowers glucose in type 2 diabetes?",
        "answer": "Metformin lowers hepatic glucose output.",
    }
    cites = {"question": "What does the passage say?", "answer": "The passage says metformin lowers glucose."}
    pairs = json.dumps({"pairs": [good, cites, good]})
    text = f"Sure! ```json\n{pairs}\n```"
    checked, left_out = check_qa_pairs(text, validate, max_pairs=3, min_answer_chars=10)
    assert checked.value == [(good["question"], good["answer"])]
    assert left_out == {"mentions_passage": 1, "repeated_question": 1}
    assert check_qa_pairs('{"pairs": []}', validate, 3, 10)[0].reason == "schema_mismatch"
    assert check_qa_pairs("no json here", validate, 3, 10)[0].reason == "invalid_json"
    assert parse_json('Answer: {"score": 4} hope this helps').value == {"score": 4}


# ---- rewrites that say more, or other, than their input: the failures SmolLM2-135M-Instruct showed -------------
KG_TRIPLES = [("Atorvastatin", "treats", "hypercholesterolemia"), ("Atorvastatin", "causes", "myalgia")]
KG_DRAFT = "Atorvastatin treats hypercholesterolemia. Atorvastatin can cause myalgia."
KG_PROMPT = (
    "Rewrite the following medical knowledge-graph facts into one fluent, accurate paragraph of natural English.\n"
    "Rules: keep every fact; mention every one of these entities: Atorvastatin; hypercholesterolemia; myalgia.\n"
    "Write only the paragraph.\n\nFacts (head | relation | tail):\n"
    "- Atorvastatin | treats | hypercholesterolemia\n- Atorvastatin | causes | myalgia\n\n"
    "Draft written from templates (improve it):\n" + KG_DRAFT
)
KG_ENTITIES = ["Atorvastatin", "hypercholesterolemia", "myalgia"]


def kg_given() -> Given:
    facts = "\n".join([KG_DRAFT, *(" ".join(t) for t in KG_TRIPLES)])
    data = [*KG_ENTITIES, "treats", "causes", KG_DRAFT]
    return Given.from_prompt(KG_PROMPT, facts, data, len(KG_DRAFT), KG_DRAFT)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Atorvastatin is used to treat hypercholesterolemia, although it may cause myalgia in some patients.", None),
        ("ATORVASTATIN treats Hypercholesterolemia; myalgias are a known side effect.", None),
        (  # the prompt echoed back, then an invented report
            "Rewrite the following medical knowledge-graph facts into one fluent, accurate paragraph of natural "
            "English. Atorvastatin treats hypercholesterolemia and causes myalgia.",
            "prompt_echo",
        ),
        (
            "I made the following changes: Added an apostrophe.\nAtorvastatin treats hypercholesterolemia and "
            "causes myalgia.",
            "commentary",
        ),
        (
            "Here is the rewritten paragraph: Atorvastatin treats hypercholesterolemia and causes myalgia.",
            "commentary",
        ),
        ("Atorvastatin treats hypercholesterolemia.\n- Atorvastatin | causes | myalgia", "prompt_echo"),
        ("Atorvastatin treats hypercholesterolemia and causes myalgia. " * 12, "too_long"),
        ("Atorvastatin.", "too_short"),
        (f"  {KG_DRAFT.upper()} ", "copied_draft"),  # SmolLM2 copies the draft back as its "rewrite"
        ("Atorvastatin treats hypercholesterolemia. Atorvastatin can cause a myalgia.", "copied_draft"),
        ("Atorvastatin treats hypercholesterolemia, and its use is common in older adults.", "lost_entity"),
        (
            "A 2012 report showed that Atorvastatin treats hypercholesterolemia and causes myalgia.",
            "unsupported_number",
        ),
        (
            "Atorvastatin treats hypercholesterolemia like Rosuvastatin does, and it causes myalgia.",
            "unsupported_entity",
        ),
        (
            "Atorvastatin treats hypercholesterolemia but, unlike simvastatin, it causes myalgia.",
            "unsupported_entity",
        ),
    ],
)
def test_kg_rewrite_faithfulness(text, reason):
    assert check_kg_rewrite(text, KG_ENTITIES, kg_given()).reason == reason


VIGNETTE = (
    "A 23-year-old woman is brought to the emergency department after being found unresponsive by her roommate. "
    "Her respirations are 8/min and shallow, and her pupils are normal in size. Which of the following is the most "
    "likely diagnosis?"
)
EXAM_PROMPT = (
    "Rewrite this medical exam question into one or more medical knowledge points: short declarative statements.\n"
    'Rules: state the correct answer "Benzodiazepine intoxication" in the text; do not mention options.\n\n'
    f"Question: {VIGNETTE}\nA. Opioid intoxication\nB. Benzodiazepine intoxication\n"
    "Correct answer: Benzodiazepine intoxication"
)


def exam_given() -> Given:
    shown = [VIGNETTE, "Opioid intoxication", "Benzodiazepine intoxication"]
    return Given.from_prompt(EXAM_PROMPT, "\n".join(shown), shown, len(VIGNETTE))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "Benzodiazepine intoxication causes respiratory depression with normal pupils, unlike opioid "
            "intoxication, which causes pinpoint pupils.",
            None,
        ),
        ("1. Benzodiazepine intoxication depresses respiration.\n2. The pupils stay normal in size.", None),
        ("Benzodiazepine intoxication", "bare_answer"),
        ("Benzodiazepine intoxication.", "bare_answer"),
        (f"Question: {VIGNETTE}\nBenzodiazepine intoxication", "question_left"),
        (
            VIGNETTE.replace("Which of the following is the most likely diagnosis?", "Benzodiazepine intoxication."),
            "copied_vignette",
        ),  # fmt: skip
        (
            "Rewrite this medical exam question into one or more medical knowledge points: Benzodiazepine "
            "intoxication causes shallow breathing.",
            "prompt_echo",
        ),
        ("I rewrote the question: Benzodiazepine intoxication causes shallow breathing.", "commentary"),
        ("Benzodiazepine intoxication causes shallow breathing; is it common in young women?", "question_mark"),
        ("Benzodiazepine intoxication causes respirations under 12/min in 40% of cases.", "unsupported_number"),
        ("Benzodiazepine intoxication is reversed by flumazenil given with Naloxone.", "unsupported_entity"),
        ("Benzodiazepine intoxication causes shallow breathing. " * 20, "too_long"),
    ],
)
def test_exam_rewrite_faithfulness(text, reason):
    answer = "Benzodiazepine intoxication"
    assert check_exam_rewrite(text, answer, exam_given(), VIGNETTE).reason == reason


def test_qa_pairs_with_the_question_in_the_answer_or_facts_not_in_the_passage_are_left_out():
    passage = "Metformin lowers hepatic glucose output and is the first-line drug for type 2 diabetes in adults."
    validate = schema_validator(qa_schema())
    good = {"question": "What is the first-line drug for type 2 diabetes?",
            "answer": "Metformin is the first-line drug; it lowers hepatic glucose output."}  # fmt: skip
    echo = {"question": "How does metformin work?", "answer": "How does metformin work? It lowers glucose output."}
    same = {"question": "Metformin lowers glucose output.", "answer": "Metformin lowers glucose output."}
    number = {"question": "How common is metformin use?", "answer": "Metformin is taken by 120 million adults."}
    name = {"question": "What else lowers glucose?", "answer": "Metformin and Sitagliptin both lower glucose."}
    long = {"question": "What does metformin do?", "answer": "Metformin lowers hepatic glucose output. " * 30}
    text = json.dumps({"pairs": [good, echo, same, number, name, long]})
    checked, left_out = check_qa_pairs(text, validate, 6, 10, passage, (200, 600))
    assert checked.value == [(good["question"], good["answer"])]
    assert left_out == {"question_in_answer": 2, "unsupported_number": 1, "unsupported_entity": 1, "too_long": 1}
    # every pair failing: the reason is the one most pairs failed for (counted and retried by the step)
    only_bad = json.dumps({"pairs": [echo, same, number]})
    assert check_qa_pairs(only_bad, validate, 3, 10, passage)[0].reason == "question_in_answer"


# SmolLM2-135M-Instruct's "rewrites" of PharmacotherapyDB drafts that the word-ratio check accepted (bench_llm_checks)
PHARMACO_DRAFT = "Memantine — SYM — Parkinson's disease. Memantine — DM — Alzheimer's disease."
BUMETANIDE_DRAFT = "Bumetanide — DM — hypertension. Bumetanide — SYM — chronic kidney failure."


@pytest.mark.parametrize(
    ("text", "draft", "copied"),
    [
        (PHARMACO_DRAFT + "\n\nThis is a medical textbook.", PHARMACO_DRAFT, True),  # a sentence tacked on
        (  # the draft's sentences swapped, then a sentence tacked on (accepted when sentences had to keep their order)
            "Memantine — SYM — Parkinson's disease. Memantine — DM — Alzheimer's disease.\n\nThis is a medical textbook.",
            "Memantine — DM — Alzheimer's disease. Memantine — SYM — Parkinson's disease.",
            True,
        ),
        ("Bumetanide – DM – hypertension. Bumetanide – SYM – chronic kidney failure.", BUMETANIDE_DRAFT, True),
        ("Memantine is used for Alzheimer's disease and to ease symptoms of Parkinson's disease.", PHARMACO_DRAFT,
         False),
        ("Metformin lowers glucose in type 2 diabetes. " * 2 + "It is the usual first drug, cheap and well studied, "
         "and its main risk, lactic acidosis, is rare.", "Metformin lowers glucose in type 2 diabetes.", False),
    ],
)  # fmt: skip
def test_a_draft_written_back_with_other_dashes_or_a_sentence_added_is_a_copy(text, draft, copied):
    assert copied_draft(text, draft) is copied


def test_a_question_that_is_a_copied_statement_is_left_out():  # SmolLM2 on BC5CDR abstracts
    statement = {"question": "In unanesthetized, spontaneously hypertensive rats the decrease in blood pressure and "
                             "heart rate produced by intravenous clonidine, 5 to 20 micrograms/kg.",
                 "answer": "Clonidine lowered blood pressure and heart rate in these rats."}  # fmt: skip
    imperative = {"question": "Explain how clonidine lowers blood pressure", "answer": "It acts centrally on rats."}
    text = json.dumps({"pairs": [statement, imperative]})
    checked, left_out = check_qa_pairs(text, schema_validator(qa_schema()), 2, 10)
    assert checked.value == [(imperative["question"], imperative["answer"])] and left_out == {"not_a_question": 1}
    assert all(
        map(is_question, ["胰岛素可以降低血糖吗", "糖尿病的治疗方法是什么", "请列出糖尿病的并发症", "Is it safe?"])
    )
    assert not any(map(is_question, ["吗啡的作用是镇痛。", "The electrocardiograms (ECGs) of 99 patients."]))


def test_a_question_about_the_reference_passage_mentions_it():  # SmolLM2 on a BC5CDR abstract
    pair = {"question": "What is the reference passage?", "answer": "It describes suxamethonium given to adults."}
    checked, left_out = check_qa_pairs(json.dumps({"pairs": [pair]}), schema_validator(qa_schema()), 1, 10)
    assert checked.reason == "mentions_passage" and left_out == {"mentions_passage": 1}


def test_qa_schema_bounds_pairs_and_string_sizes():
    schema = qa_schema(3, 200, 600)
    pairs = schema["properties"]["pairs"]
    assert pairs["maxItems"] == 3
    assert pairs["items"]["properties"]["question"]["maxLength"] == 200
    assert pairs["items"]["properties"]["answer"]["maxLength"] == 600
    too_many = {"pairs": [{"question": "q", "answer": "a"}] * 4}
    assert schema_validator(schema)(too_many) and not schema_validator(qa_schema())(too_many)


def test_name_like_words_and_numbers():
    text = "1. Metformin treats type 2 diabetes.\n2. In 2012, Pfizer tested HbA1c and lisinopril."
    assert name_like_words(text) == ["Pfizer", "HbA1c", "lisinopril"]
    assert unsupported_numbers(text, "type 2 diabetes") == ["2012"]
