"""Prompt rendering from the template files: the paper's Table 9 layout, Chinese variants, targets."""

from __future__ import annotations

import pytest

from corpusforge.formats.multiple_choice.question import MCQuestion
from corpusforge.instruct.render import UnknownTemplate, available_templates, load_template, render_mc, render_qa

PUBMEDQA = MCQuestion(
    question="Measuring hospital mortality rates: are 30-day enough?",
    options=[("A", "yes"), ("B", "no"), ("C", "maybe")],
    answer="A",
    context="OBJECTIVE. We compare 30-day and 180-day postadmission hospital mortality rates.",
    explanation="Data from 31-180 days corroborate the 30-day data.",
)


def test_table9_layout_exactly():
    messages = render_mc(PUBMEDQA, "mc_table9_en")
    assert messages == [
        {
            "role": "user",
            "content": "Context: OBJECTIVE. We compare 30-day and 180-day postadmission hospital mortality rates.\n"
            "QUESTION: Measuring hospital mortality rates: are 30-day enough?\n"
            "A) yes B) no C) maybe",
        },
        {"role": "assistant", "content": "The answer is A) yes."},
    ]


@pytest.mark.parametrize(
    ("target", "expected"), [("letter", "A"), ("option", "A) yes"), ("sentence", "The answer is A) yes.")]
)
def test_targets(target, expected):
    assert render_mc(PUBMEDQA, "mc_table9_en", target=target)[-1]["content"] == expected


def test_explanation_target_and_system_prompt():
    messages = render_mc(PUBMEDQA, "mc_table9_en", with_explanation=True, system_prompt="You are a doctor.")
    assert messages[0] == {"role": "system", "content": "You are a doctor."}
    assert messages[-1]["content"] == "Data from 31-180 days corroborate the 30-day data.\nThe answer is A) yes."
    no_explanation = MCQuestion(question="Q?", options=[("A", "x"), ("B", "y")], answer="B")
    assert render_mc(no_explanation, "mc_lines_en", with_explanation=True)[-1]["content"] == "The answer is B) y."


def test_chinese_and_line_layouts():
    question = MCQuestion(
        question="下列哪项是一线用药", options=[("A", "甲"), ("B", "乙")], answer="B", explanation="解释"
    )
    user, assistant = render_mc(question, "mc_lines_zh", with_explanation=True)
    assert user["content"] == "问题：下列哪项是一线用药\nA) 甲\nB) 乙"
    assert assistant["content"] == "解析：解释\n答案是 B) 乙。"
    assert render_mc(question, "mc_table9_zh")[0]["content"] == "问题：下列哪项是一线用药\nA) 甲 B) 乙"


def test_free_form_and_template_catalog():
    assert render_qa("头痛怎么办？", "多休息。") == [
        {"role": "user", "content": "头痛怎么办？"},
        {"role": "assistant", "content": "多休息。"},
    ]
    assert {"qa", "mc_table9_en", "mc_table9_zh", "mc_lines_en", "mc_lines_zh"} <= set(available_templates())
    assert len(load_template("mc_table9_en").digest) == 12
    with pytest.raises(UnknownTemplate, match="known"):
        load_template("missing")


def test_sentence_target_never_doubles_the_options_own_full_stop():
    question = MCQuestion(
        question="What does it do?", options=[("A", "Relaxes the muscles."), ("B", "y")], answer="A"
    )
    assert render_mc(question, "mc_lines_en")[-1]["content"] == "The answer is A) Relaxes the muscles."
    zh = MCQuestion(question="作用是", options=[("A", "松弛肌肉。"), ("B", "乙")], answer="A")
    assert render_mc(zh, "mc_lines_zh")[-1]["content"] == "答案是 A) 松弛肌肉。"
