"""kg.subgraphs on a Chinese medical KG in QASystemOnMedicalKG's schema (English relation names, Chinese entities,
a disease hub of 60+ edges, producer leaves with one edge): default strategies cover it, relations read in
Chinese, and filter.length does not drop whole Chinese sentences."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from datatrove.data import Document

from corpusforge.pipeline.readers.kg import KGTriplesReader
from corpusforge.pipeline.steps.filters import LengthFilter
from tests.pipeline.helpers import run_reader
from tests.pipeline.test_kg import subgraphs, triple_docs

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "kg" / "medical_kg_zh_first50_triples.tsv"
ENGLISH_RELATION = re.compile(r"[a-z]+_[a-z]+|has symptom|acompany|recommand|need check|do eat|no eat|drugs of")


def hub_graph() -> list[tuple[str, str, str]]:
    """肺炎 with 64 edges over the schema's relations, drugs made by producers, a department tree."""
    rows = [("肺炎", "has_symptom", f"症状{i}") for i in range(15)]
    rows += [("肺炎", "need_check", f"检查{i}") for i in range(10)]
    rows += [("肺炎", "recommand_eat", f"食谱{i}") for i in range(10)]
    rows += [("肺炎", "do_eat", f"食物{i}") for i in range(8)]
    rows += [("肺炎", "no_eat", f"忌口{i}") for i in range(6)]
    rows += [("肺炎", "common_drug", f"药品{i}") for i in range(5)]
    rows += [("肺炎", "recommand_drug", f"推荐药{i}") for i in range(5)]
    rows += [("肺炎", "acompany_with", f"并发病{i}") for i in range(4)]
    rows += [("肺炎", "belongs_to", "呼吸内科"), ("呼吸内科", "belongs_to", "内科")]
    rows += [(f"厂家{i}药品{i}", "drugs_of", f"药品{i}") for i in range(5)]
    rows += [("感冒", "has_symptom", "症状1"), ("感冒", "common_drug", "药品1")]
    return rows


def test_default_strategies_cover_a_hub_and_its_leaves():
    rows = hub_graph()
    out, stats = subgraphs({}, triple_docs(rows))
    assert stats["triples_in"] == len(rows) == stats["triples_covered"]  # every triple, with the defaults
    ego = [d for d in out if d.metadata["strategy"] == "ego" and d.metadata["seed_node"] == "肺炎"]
    assert len(ego) >= 6 and all(d.metadata["num_triples"] <= 12 for d in ego)  # the hub split, not cut
    hub_triples = {tuple(t) for d in ego for t in d.metadata["triples"] if t[0] == "肺炎"}
    assert len(hub_triples) == sum(1 for r in rows if r[0] == "肺炎")
    out, stats = subgraphs({"strategies": [{"kind": "ego"}, {"kind": "cover"}]}, triple_docs(rows))
    assert stats["triples_covered"] == len(rows)  # the producers' single edges, gathered by cover
    cover = [d for d in out if d.metadata["strategy"] == "cover"]
    assert {tuple(t) for d in cover for t in d.metadata["triples"]} >= {r for r in rows if r[1] == "drugs_of"}


def test_relations_are_worded_in_chinese_and_overridable():
    rows = hub_graph()
    out, stats = subgraphs({}, triple_docs(rows))
    texts = [d.text for d in out]
    assert not [t for t in texts if ENGLISH_RELATION.search(t)]
    assert not [k for k in stats if k.startswith("template_fallback/")]
    joined = "\n".join(texts)
    assert "肺炎患者忌吃忌口0" in joined.replace("、", "") or "肺炎患者忌吃" in joined
    assert "厂家1药品1是药品1的厂家产品。" in joined
    out, _ = subgraphs({"templates_zh": {"drugs_of": "{tail}由{head}生产。"}}, triple_docs(rows))
    assert "药品1由厂家1药品1生产。" in "\n".join(d.text for d in out)


def test_english_entities_keep_english_templates():
    out, _ = subgraphs({}, triple_docs([("pneumonia", "has_symptom", "cough"), ("pneumonia", "no_eat", "chili")]))
    assert "Symptoms of pneumonia include cough. Patients with pneumonia should avoid chili." in out[0].text


def test_length_counts_han_characters_as_words():
    step = LengthFilter(min_chars=20)
    sentence = Document(text="肺炎的症状包括咳嗽。", id="zh")  # 10 characters, 9 of them Han
    assert step.filter(sentence) is True
    assert step.filter(Document(text="short one", id="en")) == (False, "too_short")
    assert LengthFilter(min_chars=20, han_char_weight=1).filter(sentence) == (False, "too_short")
    assert LengthFilter(max_chars=20).filter(sentence) == (False, "too_long")  # 9*3+1 = 28 > 20


def test_real_chinese_kg_coverage_and_wording(tmp_path):
    if not REAL.is_file():
        pytest.skip(f"real Chinese KG not found at {REAL}")
    docs, stats, quarantine = run_reader(
        KGTriplesReader(
            path=str(REAL),
            source="kg",
            quarantine_dir=tmp_path / "q",
            columns={"head": "head", "relation": "relation", "tail": "tail", "head_type": "head_type",
                     "tail_type": "tail_type"},
        ),
        tmp_path / "q",
    )  # fmt: skip
    assert len(docs) == stats["records"] == 2438 and not quarantine
    out, stats = subgraphs({}, docs)
    assert stats["triples_covered"] / stats["triples_in"] >= 0.95
    assert not [d.text for d in out if ENGLISH_RELATION.search(d.text)]
    kept = [d for d in out if LengthFilter(min_chars=20).filter(d) is True]
    assert len(kept) == len(out)
