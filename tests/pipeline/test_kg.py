"""read.kg_triples and kg.subgraphs on small inline triple files (and the bundled sample)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from datatrove.data import Document
from pydantic import ValidationError

from corpusforge.errors import BuildError, ConfigError
from corpusforge.pipeline.readers.kg import KGTriplesReader
from corpusforge.pipeline.registry import BuildContext
from corpusforge.pipeline.steps.kg.sampling import sample_ego
from corpusforge.pipeline.steps.kg.strategies import EgoStrategy
from corpusforge.pipeline.steps.kg.subgraphs import KGSubgraphs
from tests.pipeline.helpers import run_reader

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "samples" / "kg"


def ctx(seed: int = 0) -> BuildContext:
    return BuildContext(source="kg", output_dir=Path("."), work_dir=Path("."), seed=seed)


def read(path: Path, tmp_path: Path, **params) -> tuple[list[Document], dict, list[dict]]:
    return run_reader(
        KGTriplesReader(path=str(path), source="kg", quarantine_dir=tmp_path / "q", **params), tmp_path / "q"
    )


def triple_docs(rows: list[tuple[str, str, str]], file: str = "t.tsv") -> list[Document]:
    return [
        Document(
            text="\t".join(r),
            id=f"kg:{file}:{i + 2}",
            metadata={
                "triple": dict(zip(("head", "relation", "tail"), r)),
                "source": "kg",
                "provenance": {"file": file, "line": i + 2},
                "transforms": ["read.kg_triples"],
            },
        )
        for i, r in enumerate(rows)
    ]


def subgraphs(step_params: dict, docs: list[Document], seed: int = 0) -> tuple[list[Document], dict]:
    step = KGSubgraphs.from_params(KGSubgraphs.Params(**step_params), ctx(seed))
    out = list(step.run(iter(docs)))
    return out, {k: v.total for k, v in step.stats.stats.items()}


# ---------------------------------------------------------------------------------------------------------------
# read.kg_triples
# ---------------------------------------------------------------------------------------------------------------
def test_tsv_with_header_and_types(tmp_path):
    docs, stats, quarantine = read(SAMPLE, tmp_path)
    assert len(docs) == stats["records"] == 187 and not quarantine
    first = docs[0]
    assert first.id == "kg:medical_kg_triples.tsv:2"
    assert first.text == "2型糖尿病\t症状\t多饮"
    assert first.metadata["triple"] == {
        "head": "2型糖尿病",
        "head_type": "疾病",
        "relation": "症状",
        "tail": "多饮",
        "tail_type": "症状",
    }
    assert first.metadata["provenance"] == {"file": str(SAMPLE / "medical_kg_triples.tsv"), "line": 2}


def test_csv_with_mapped_columns_and_quotes(tmp_path):
    f = tmp_path / "kg.csv"
    f.write_text('subject,predicate,object\n"aspirin, low dose",prevents,stroke\nmetformin,treats,type 2 diabetes\n')
    docs, _, quarantine = read(f, tmp_path, columns={"head": "subject", "relation": "predicate", "tail": "object"})
    assert [d.metadata["triple"]["head"] for d in docs] == ["aspirin, low dose", "metformin"] and not quarantine


def test_headerless_tsv_by_position_and_jsonl_by_field(tmp_path):
    f = tmp_path / "kg.tsv"
    f.write_text("treats\tmetformin\ttype 2 diabetes\n")
    docs, _, _ = read(f, tmp_path, header=False, columns={"head": 1, "relation": 0, "tail": 2})
    assert docs[0].metadata["triple"] == {"head": "metformin", "relation": "treats", "tail": "type 2 diabetes"}

    j = tmp_path / "kg.jsonl"
    j.write_text(json.dumps({"s": "insulin", "p": "treats", "o": "diabetes", "st": "drug"}) + "\n")
    docs, _, _ = read(j, tmp_path / "j", columns={"head": "s", "relation": "p", "tail": "o", "head_type": "st"})
    assert docs[0].metadata["triple"] == {
        "head": "insulin",
        "relation": "treats",
        "tail": "diabetes",
        "head_type": "drug",
    }


def test_column_positions_need_header_false():
    with pytest.raises(ValidationError, match="header: false"):
        KGTriplesReader.Params(path="x", columns={"head": 0})
    with pytest.raises(ValidationError, match="positions"):
        KGTriplesReader.Params(path="x", header=False, columns={"head": "subject"})


def test_bad_rows_are_quarantined_with_raw_and_counts_add_up(tmp_path):
    folder = tmp_path / "kg"
    folder.mkdir()
    (folder / "a.tsv").write_bytes(
        b"head\trelation\ttail\n"
        b"metformin\ttreats\ttype 2 diabetes\n"
        b"too\tfew\n"
        b"one\ttoo\tmany\tcolumns\n"
        b"\ttreats\tsomething\n" + "胰岛素\t治疗\t糖尿病\n".encode("gbk") + b"x" * 300 + b"\tr\tt\n"
    )
    (folder / "b.jsonl").write_text(
        '{"head": "aspirin", "relation": "prevents", "tail": "stroke"}\n'
        '{"head": "aspirin", "relation": "prev\n'  # a truncated line
        '{"head": "aspirin", "tail": "stroke"}\n'
    )
    (folder / "c.csv").write_text('head,relation,tail\n"unclosed,treats,x\n')
    (folder / "d.tsv").write_text("subject\tpredicate\tobject\nx\ty\tz\nu\tv\tw\n")  # header lacks `head`...
    docs, stats, quarantine = read(folder, tmp_path, max_record_bytes=200)

    assert [d.metadata["triple"]["head"] for d in docs] == ["metformin", "aspirin"]
    reasons = sorted((Path(q["location"]["file"]).name, q["location"]["line"], q["reason"]) for q in quarantine)
    assert reasons == [
        ("a.tsv", 3, "bad_columns"),
        ("a.tsv", 4, "bad_columns"),
        ("a.tsv", 5, "missing_field"),
        ("a.tsv", 6, "bad_encoding"),
        ("a.tsv", 7, "too_large"),
        ("b.jsonl", 2, "bad_json"),
        ("b.jsonl", 3, "missing_field"),
        ("c.csv", 2, "bad_csv"),
        ("d.tsv", 2, "bad_header"),
        ("d.tsv", 3, "bad_header"),
    ]
    bad_header = next(q for q in quarantine if q["reason"] == "bad_header")
    assert "head='head'" in bad_header["error"] and "subject" in bad_header["error"]
    gbk = next(q for q in quarantine if q["reason"] == "bad_encoding")
    assert gbk["raw_encoding"] == "base64"
    assert next(q for q in quarantine if q["reason"] == "bad_json")["raw"] == '{"head": "aspirin", "relation": "prev'
    assert stats["records"] == len(docs) + stats["quarantined"] == 12


def test_unknown_suffix_is_a_counted_file_quarantine(tmp_path):
    f = tmp_path / "triples.dat"
    f.write_text("a\tb\tc\n")
    docs, stats, quarantine = read(f, tmp_path)
    assert not docs and quarantine[0]["reason"] == "unreadable_file" and "format" in quarantine[0]["error"]
    assert quarantine[0]["scope"] == "file" and stats["files_quarantined"] == 1 and "records" not in stats


# ---------------------------------------------------------------------------------------------------------------
# kg.subgraphs
# ---------------------------------------------------------------------------------------------------------------
DRUGS = [
    ("metformin", "treats", "type 2 diabetes"),
    ("insulin", "treats", "type 2 diabetes"),
    ("type 2 diabetes", "has_symptom", "polyuria"),
    ("type 2 diabetes", "has_symptom", "thirst"),
    ("metformin", "adverse_effect", "lactic acidosis"),
    ("type 2 diabetes", "belongs_to_department", "endocrinology"),
    ("insulin", "adverse_effect", "hypoglycaemia"),
]


def test_ego_graph_text_groups_sentences_by_head():
    strategy = {"kind": "ego", "radius": 1, "max_edges": 50, "count": 1, "seeds": "any", "seed_types": None}
    docs = triple_docs(DRUGS)
    step = KGSubgraphs.from_params(KGSubgraphs.Params(strategies=[strategy]), ctx())
    g, _ = step.load(iter(docs))
    seed = g.entities.names.index("type 2 diabetes")
    (ids,) = sample_ego(g, seed, EgoStrategy(radius=1, max_edges=50), random.Random(0))
    assert sorted(ids) == [0, 1, 2, 3, 5]  # every triple touching the seed, none two hops away
    text = step.verbalize(g, sorted(ids))
    assert text.split("\n") == [
        "Metformin is used to treat type 2 diabetes.",
        "Insulin is used to treat type 2 diabetes.",
        "Symptoms of type 2 diabetes include polyuria and thirst. Type 2 diabetes is treated in the endocrinology "
        "department.",
    ]


def test_subgraph_documents_metadata_and_accounting():
    docs = triple_docs(DRUGS + [DRUGS[0]])  # one exact duplicate
    out, stats = subgraphs({"strategies": [{"kind": "ego", "max_edges": 50, "seeds": "any"}]}, docs)
    assert stats["documents_in"] == 8 == stats["expanded"] + stats["dropped"]
    assert stats["dropped_duplicate_triple"] == 1
    assert stats["triples_in"] == 7 == stats["triples_covered"]  # every entity seeds one ego graph
    assert stats["documents_out"] == stats["subgraphs_ego"] == len(out)
    d = out[0]
    assert d.id == "kg:ego/0" and d.metadata["strategy"] == "ego"
    assert d.metadata["num_triples"] == len(d.metadata["provenance"]["lines"]) >= 2
    assert all(2 <= line <= 9 for line in d.metadata["provenance"]["lines"])
    assert d.metadata["provenance"]["file"] == "t.tsv"
    assert d.metadata["transforms"] == ["read.kg_triples", "kg.subgraphs"]
    assert d.metadata["seed_node"] in {h for h, _, _ in DRUGS} | {t for _, _, t in DRUGS}


def test_uncovered_triples_are_dropped_as_not_sampled():
    rows = DRUGS + [("aspirin", "prevents", "stroke")]  # a component no seed below reaches
    docs = triple_docs(rows)
    for d in docs:
        d.metadata["triple"]["head_type"] = "drug" if d.metadata["triple"]["head"] != "aspirin" else "other"
    strategy = {"kind": "ego", "max_edges": 50, "seed_types": ["drug"], "min_triples": 1}
    out, stats = subgraphs({"strategies": [strategy]}, docs)
    assert stats["triples_covered"] == 7 and stats["dropped_not_sampled"] == 1
    assert stats["documents_in"] == 8 == stats["expanded"] + stats["dropped"]


def test_strategies_budgets_and_determinism_under_the_seed(tmp_path):
    docs, _, _ = read(SAMPLE, tmp_path)
    params = {
        "strategies": [
            {"kind": "ego", "radius": 2, "max_edges": 6, "count": 10},
            {"kind": "khop", "k": 2, "fanout": 2, "max_edges": 5, "count": 0.5},
            {"kind": "random_walk", "length": 4, "count": 25, "seeds": "any", "min_triples": 1},
        ]
    }
    a, stats = subgraphs(params, docs, seed=7)
    b, _ = subgraphs(params, docs, seed=7)
    c, _ = subgraphs(params, docs, seed=8)
    assert [d.text for d in a] == [d.text for d in b] and [d.id for d in a] == [d.id for d in b]
    assert [d.text for d in a] != [d.text for d in c]
    by_strategy = {s: [d for d in a if d.metadata["strategy"] == s] for s in ("ego", "khop", "random_walk")}
    assert all(2 <= d.metadata["num_triples"] <= 6 for d in by_strategy["ego"])
    assert all(d.metadata["num_triples"] <= 5 for d in by_strategy["khop"])
    assert all(d.metadata["num_triples"] <= 4 for d in by_strategy["random_walk"])
    assert stats["subgraphs_ego"] <= 10 and stats["subgraphs_random_walk"] <= 25
    assert stats["documents_in"] == 187 == stats["expanded"] + stats["dropped"]
    assert 0 < stats["triples_covered"] < 187


def test_template_override_file_and_fallbacks(tmp_path):
    rows = [
        DRUGS[0],  # ("metformin", "treats", "type 2 diabetes"): the recipe overrides its shipped template
        ("metformin", "half_life", "6 hours"),
        ("metformin", "may_prevent", "gestational diabetes"),
        ("二甲双胍", "适应症", "2型糖尿病"),
        ("二甲双胍", "别名", "甲福明"),
    ]
    templates_path = tmp_path / "t.yaml"
    templates_path.write_text("relations:\n  may_prevent: '{head} might prevent {tail}.'\n", encoding="utf-8")
    params = {
        "strategies": [{"kind": "ego", "max_edges": 10, "count": "all", "min_triples": 2}],
        "templates": {"treats": "{tail} is treated with {head}."},
        "templates_path": str(templates_path),
    }
    out, _ = subgraphs(params, triple_docs(rows))
    texts = sorted(d.text for d in out)
    assert len(texts) == 2
    assert sorted(texts[0].replace(". ", ".|").split("|")) == [  # in sampling order; the set is what matters
        "Metformin might prevent gestational diabetes.",  # from the templates file
        "Metformin — half life — 6 hours.",  # noun-like English fallback
        "Type 2 diabetes is treated with metformin.",  # recipe override of the shipped template
    ]
    assert sorted(texts[1].replace("。", "。|").split("|")[:-1]) == [
        "二甲双胍又称甲福明。",
        "二甲双胍的适应症是2型糖尿病。",
    ]


def test_bad_templates_and_strategies_are_config_errors():
    with pytest.raises(ConfigError, match=r"templates.treats: unknown placeholder \{drug\}"):
        KGSubgraphs.from_params(KGSubgraphs.Params(templates={"treats": "{drug} treats {tail}"}), ctx())
    with pytest.raises(ConfigError, match="templates_path"):
        KGSubgraphs.from_params(KGSubgraphs.Params(templates_path="/nonexistent.yaml"), ctx())
    with pytest.raises(ValidationError, match="kind"):
        KGSubgraphs.Params(strategies=[{"kind": "pagerank"}])
    with pytest.raises(ValidationError, match="unique"):
        KGSubgraphs.Params(strategies=[{"kind": "ego", "name": "x"}, {"kind": "khop", "name": "x"}])


def test_subgraphs_refuse_to_run_split_over_tasks():
    step = KGSubgraphs.from_params(KGSubgraphs.Params(), ctx())
    assert KGSubgraphs.requires_single_task and KGSubgraphs.changes_cardinality
    with pytest.raises(BuildError, match="tasks=1"):
        list(step.run(iter(triple_docs(DRUGS)), rank=1, world_size=2))


def test_kg_pipeline_through_datatrove_executor(tmp_path):
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.writers import JsonlWriter

    build_ctx = BuildContext(source="kg", output_dir=tmp_path / "out", work_dir=tmp_path / "work", seed=3)
    pipeline = [
        KGTriplesReader.from_params(KGTriplesReader.Params(path=str(SAMPLE)), build_ctx),
        KGSubgraphs.from_params(KGSubgraphs.Params(), build_ctx),
        JsonlWriter(str(tmp_path / "docs"), output_filename="${rank}.jsonl", compression=None),
    ]
    LocalPipelineExecutor(pipeline, tasks=1, workers=1, logging_dir=str(tmp_path / "logs")).run()
    stats = {
        s["name"].split(": ", 1)[1]: s["stats"] for s in json.loads((tmp_path / "logs" / "stats.json").read_text())
    }

    def total(step: str, key: str) -> int:
        value = stats[step].get(key, 0)
        return value["total"] if isinstance(value, dict) else value

    assert total("read.kg_triples", "records") == total("kg.subgraphs", "documents_in") == 187
    assert total("kg.subgraphs", "expanded") + total("kg.subgraphs", "dropped") == 187
    records = [json.loads(line) for line in (tmp_path / "docs" / "00000.jsonl").open()]
    assert len(records) == total("kg.subgraphs", "documents_out") > 20
    assert {r["metadata"]["strategy"] for r in records} == {"ego", "khop", "random_walk"}


# ---------------------------------------------------------------------------------------------------------------
# Relations without templates, self-loops, codes mapped to names, the subgraph kept in metadata
# ---------------------------------------------------------------------------------------------------------------
def test_relations_without_template_are_humanized_counted_and_self_loops_dropped():
    rows = [
        ("Dipivefrin", "NOT", "hypertension"),
        ("Dipivefrin", "hasSideEffect", "mydriasis"),
        ("Dipivefrin", "treats", "glaucoma"),
        ("Aspirin", "is_a", "aspirin"),  # a self-loop, whatever the case
    ]
    params = {"strategies": [{"kind": "ego", "max_edges": 10, "count": "all", "min_triples": 2}]}
    (doc,), stats = subgraphs(params, triple_docs(rows))
    assert sorted(doc.text.replace(". ", ".|").split("|")) == [
        "Dipivefrin is used to treat glaucoma.",
        "Dipivefrin — NOT — hypertension.",
        "Dipivefrin — has side effect — mydriasis.",
    ]
    assert stats["dropped_self_loop"] == 1 and stats["documents_in"] == 4 == stats["expanded"] + stats["dropped"]
    assert stats["template_fallback/NOT"] == 1 and stats["template_fallback/hasSideEffect"] == 1
    assert "template_fallback/treats" not in stats
    assert sorted(doc.metadata["triples"]) == sorted([list(r) for r in rows[:3]])
    assert doc.metadata["entities"][0] == "Dipivefrin" and len(doc.metadata["entities"]) == 4


def test_strict_templates_stop_the_build_naming_the_relations():
    params = {"strict_templates": True, "strategies": [{"kind": "ego", "count": "all"}]}
    with pytest.raises(BuildError, match=r"no template for relation\(s\) 'DM' \(2 triples\), 'NOT' \(1 triples\)"):
        subgraphs(params, triple_docs([("a", "DM", "b"), ("c", "DM", "d"), ("a", "NOT", "d")]))


REAL_KG = (
    Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "kg" / "pharmacotherapydb_indications.tsv"
)
PHARMACOTHERAPY_NAMES = {"DM": "disease_modifying_treatment_for", "SYM": "symptomatic_treatment_for",
                         "NOT": "not_indicated_for"}  # fmt: skip


def test_real_pharmacotherapydb_codes_mapped_to_names_and_templates(tmp_path):
    if not REAL_KG.is_file():
        pytest.skip(f"real knowledge graph not found at {REAL_KG}")
    columns = {"head": "drug", "relation": "category", "tail": "disease"}
    docs, stats, quarantine = read(REAL_KG, tmp_path, columns=columns, relation_names=PHARMACOTHERAPY_NAMES)
    assert len(docs) == stats["records"] == 1388 and not quarantine
    assert docs[0].metadata["triple"]["relation"] == "disease_modifying_treatment_for"
    assert docs[0].metadata["triple"]["relation_code"] == "DM"
    templates = {
        "disease_modifying_treatment_for": "{head} is a disease-modifying treatment for {tail}.",
        "symptomatic_treatment_for": "{head} treats the symptoms of {tail}.",
        "not_indicated_for": "{head} is not indicated for {tail}.",
    }
    params = {"templates": templates, "strategies": [{"kind": "ego", "max_edges": 8, "count": "all"}]}
    out, kg_stats = subgraphs(params, docs)
    assert not any(k.startswith("template_fallback/") for k in kg_stats)
    text = "\n".join(d.text for d in out)
    assert " is a disease-modifying treatment for " in text and " is not indicated for " in text
    assert " NOT " not in text and "The DM of" not in text
    # without the templates, the mapped names still read as words, and every fallback relation is counted
    out, kg_stats = subgraphs({"strategies": params["strategies"]}, docs)
    fallbacks = {k: v for k, v in kg_stats.items() if k.startswith("template_fallback/")}
    assert set(fallbacks) == {f"template_fallback/{n}" for n in PHARMACOTHERAPY_NAMES.values()}
    assert sum(fallbacks.values()) == kg_stats["triples_in"]
    assert "not indicated for" in "\n".join(d.text for d in out)
