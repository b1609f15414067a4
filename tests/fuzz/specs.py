"""The table of everything that reads user input: every corpus reader, every instruction adapter, the labeler's item
loading, each in the layouts it reads. A new reader is one more `Spec` here; every bad-input class in cases.py then
runs against it.

A Spec says how to write good records in its layout (`good(i)` -> a JSON object or CSV cells, `layout`), which field
holds text to corrupt and which must reject a boolean, and how to run the reader over a folder (`run`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpusforge.pipeline.registry import BuildContext, registered

MAX_RECORD_BYTES = 4000


@dataclass
class Outcome:
    """What a reader made of one input: documents/items kept, its counters, and what it quarantined."""

    kept: int
    records: int
    dropped: int
    quarantined: int
    files_quarantined: int
    quarantine: list[dict[str, Any]]
    reasons: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)  # of what was kept
    texts: list[str] = field(default_factory=list)  # of what was kept


@dataclass
class Spec:
    id: str
    layout: str  # jsonl | json_array | json_lines_in_json | json_keyed | csv | csv_noheader | tsv | text | xml
    file_name: str
    good: Callable[[int], Any]
    run: Callable[[Path, Path], Outcome]
    text_field: str | int | None = None  # where text is corrupted (surrogate, invalid bytes, wrong type)
    bool_field: str | int | None = None  # where a boolean must be rejected
    header: list[str] | None = None  # CSV/TSV header
    json_layouts: tuple[str, ...] = ()  # other .json layouts this spec must read the same way
    csv_quoting: bool = True  # False: one line is one row, a quote is just a character (KG triples)


# ---- running a registered reader ----------------------------------------------------------------------------------
def registered_reader(name: str, **params: Any) -> Callable[[Path, Path], Outcome]:
    def run(path: Path, tmp: Path) -> Outcome:
        entry = registered("reader")[name]
        ctx = BuildContext(source="fuzz", output_dir=tmp / "out", work_dir=tmp / "work")
        all_params = {"type": name, "path": str(path), "max_record_bytes": MAX_RECORD_BYTES, **params}
        reader = entry.build(entry.params.model_validate(all_params), ctx)
        docs = list(reader.run())
        stats = {k: int(v.total) for k, v in reader.stats.stats.items()}
        quarantine = []
        for file in sorted(ctx.quarantine_dir.glob("*.jsonl")) if ctx.quarantine_dir.is_dir() else []:
            quarantine += [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
        reasons = {k.removeprefix("quarantined_"): v for k, v in stats.items() if k.startswith("quarantined_")}
        reasons |= {k.removeprefix("dropped_"): v for k, v in stats.items() if k.startswith("dropped_")}
        reasons |= {
            k.removeprefix("files_quarantined_"): v for k, v in stats.items() if k.startswith("files_quarantined_")
        }
        return Outcome(
            kept=len(docs),
            records=stats.get("records", 0),
            dropped=stats.get("dropped", 0),
            quarantined=stats.get("quarantined", 0),
            files_quarantined=stats.get("files_quarantined", 0),
            quarantine=quarantine,
            reasons=reasons,
            ids=[d.id for d in docs],
            texts=[d.text for d in docs],
        )

    return run


def label_items(format: str, **fields: str) -> Callable[[Path, Path], Outcome]:
    """The labeler's input loading (label/items.py) over the one file in `path`."""

    def run(path: Path, tmp: Path) -> Outcome:
        from corpusforge.errors import InputError
        from corpusforge.label.config import InputSpec
        from corpusforge.label.items import Quarantined, iter_input

        (file,) = [p for p in path.iterdir() if p.is_file()]
        spec = InputSpec(path=str(file), format=format, **({"fields": fields} if fields else {}))
        kept, quarantine, ids = 0, [], []
        try:
            for entry in iter_input(spec):
                if isinstance(entry, Quarantined):
                    json.dumps(entry.raw, ensure_ascii=False, default=str).encode("utf-8")  # writable as-is
                    quarantine.append({"location": entry.location, "reason": entry.reason, "raw": entry.raw})
                else:
                    kept += 1
                    ids.append(entry.id)
        except InputError as e:  # the designed answer for an input that is no PubMedQA/JSONL file at all
            assert str(file) in str(e) and "\n" not in str(e).strip()
            return Outcome(kept, kept + len(quarantine), 0, len(quarantine), 1, quarantine, {"input_error": 1})
        reasons: dict[str, int] = {}
        for q in quarantine:
            reasons[q["reason"]] = reasons.get(q["reason"], 0) + 1
        return Outcome(kept, kept + len(quarantine), 0, len(quarantine), 0, quarantine, reasons, ids)

    return run


# ---- good records, one factory per source shape ------------------------------------------------------------------
def _text(i: int) -> str:
    return f"Record {i}: insulin lowers blood glucose in patients with type 2 diabetes."


def qa(i: int) -> dict:
    return {"id": f"q{i}", "question": f"What does insulin do ({i})?", "answer": f"It lowers blood glucose ({i})."}


def medqa(i: int) -> dict:
    options = {"A": f"Metformin {i}", "B": "Insulin", "C": "Aspirin", "D": "Statin"}
    return {"question": f"First-line drug for type 2 diabetes ({i})?", "answer": f"Metformin {i}",
            "options": options, "answer_idx": "A", "meta_info": "step1"}  # fmt: skip


def medmcqa(i: int) -> dict:
    return {"id": f"m{i}", "question": f"Which nerve is injured in wrist drop ({i})?", "opa": "Median",
            "opb": "Ulnar", "opc": "Axillary", "opd": "Radial", "cop": 4, "exp": "The radial nerve.",
            "subject_name": "Anatomy", "topic_name": "Upper limb", "choice_type": "single"}  # fmt: skip


CMEXAM_HEADER = ["Question", "Options", "Answer", "Explanation"]


def cmexam(i: int) -> list:
    return [f"治疗2型糖尿病的一线药物是（{i}）", "A 格列本脲\nB 二甲双胍\nC 胰岛素", "B", "二甲双胍是一线用药。"]


def mmlu(i: int) -> list:
    return [f"Which cranial nerve innervates the lateral rectus ({i})?", "Oculomotor", "Trochlear", "Abducens",
            "Facial", "C"]  # fmt: skip


def promptcblue(i: int) -> dict:
    return {"input": f"找出句子中的疾病实体：糖尿病患者{i}", "target": "糖尿病", "answer_choices": None,
            "task_type": "ner", "task_dataset": "CMeEE-V2", "sample_id": f"train-{i}"}  # fmt: skip


def pubmed_row(i: int) -> dict:
    return {"pmid": str(1000 + i), "title": f"A trial {i}", "abstract": _text(i)}


def pqal(i: int) -> dict:
    return {"QUESTION": f"Does insulin lower glucose ({i})?", "CONTEXTS": [_text(i)], "LABELS": ["RESULTS"],
            "MESHES": ["Insulin"], "YEAR": "2001", "LONG_ANSWER": "Yes, it does.", "final_decision": "yes"}  # fmt: skip


def pqa_hub_row(i: int) -> dict:
    return {"pubid": 2000 + i, "question": f"Does insulin lower glucose ({i})?",
            "context": {"contexts": [_text(i)], "labels": ["RESULTS"], "meshes": ["Insulin"]},
            "long_answer": "Yes, it does.", "final_decision": "yes"}  # fmt: skip


def label_row(i: int) -> dict:
    return {"pmid": str(3000 + i), "question": f"Q{i}?", "label": "yes", "confidence": 0.9, "agreement": 1.0}


def jats(i: int) -> str:
    """One PMC article (JATS) per file."""
    return (
        f'<?xml version="1.0"?>\n<article article-type="research-article"><front><article-meta>'
        f'<article-id pub-id-type="pmcid">PMC{100 + i}</article-id><title-group><article-title>Title {i}'
        f"</article-title></title-group><abstract><p>{_text(i)}</p></abstract></article-meta></front>"
        f"<body><sec><title>Introduction</title><p>{_text(i)} More text.</p></sec></body></article>\n"
    )


def dialogue(i: int) -> dict:
    return {"id": f"dlg{i}", "instruction": f"我头痛{i}天了怎么办？", "output": "建议休息并就医。",
            "history": [["你好", "您好，请问哪里不舒服？"]]}  # fmt: skip


def kg_row(i: int) -> dict:
    return {"head": f"drug{i}", "relation": "treats", "tail": f"disease{i}"}


def _pqal_items(path: Path) -> Path:
    """The PQA-U items the pseudo-label adapter joins with (written next to the input folder)."""
    items = path.parent / "items" / "ori_pqau.json"
    items.parent.mkdir(parents=True, exist_ok=True)
    items.write_text(json.dumps({str(3000 + i): pqal(i) for i in range(40)}))
    return items


def pseudo_labels(path: Path, tmp: Path) -> Outcome:
    return registered_reader("instruct.pubmedqa_labels", items_path=str(_pqal_items(path)), glob="*.jsonl")(path, tmp)


JSON_LAYOUTS = ("json_array", "json_lines_in_json", "json_array_compact", "json_pretty_values")

SPECS: list[Spec] = [
    # corpus readers
    Spec("read.jsonl", "jsonl", "docs.jsonl", lambda i: {"id": f"d{i}", "text": _text(i)},
         registered_reader("read.jsonl"), text_field="text", bool_field="text"),
    Spec("read.qa/jsonl", "jsonl", "qa.jsonl", qa, registered_reader("read.qa"), "question", "answer"),
    Spec("read.qa/json", "json_array", "qa.json", qa, registered_reader("read.qa"), "question", "answer",
         json_layouts=JSON_LAYOUTS),
    Spec("read.qa/csv", "csv", "qa.csv", lambda i: list(qa(i).values()), registered_reader("read.qa"),
         text_field=1, header=["id", "question", "answer"]),
    Spec("read.exam/medqa", "jsonl", "medqa.jsonl", medqa, registered_reader("read.exam", format="medqa"),
         "question", "answer_idx"),
    Spec("read.exam/medmcqa", "json_lines_in_json", "train.json", medmcqa,
         registered_reader("read.exam", format="medmcqa"), "question", "cop", json_layouts=JSON_LAYOUTS),
    Spec("read.exam/cmexam", "csv", "cmexam.csv", cmexam, registered_reader("read.exam", format="cmexam"),
         text_field=0, header=CMEXAM_HEADER),
    Spec("read.exam/mmlu", "csv_noheader", "anatomy_test.csv", mmlu, registered_reader("read.exam", format="mmlu"),
         text_field=0),
    Spec("read.promptcblue", "jsonl", "pcb.jsonl", promptcblue, registered_reader("read.promptcblue"), "input",
         "target"),
    Spec("read.pubmed_jsonl", "jsonl", "pubmed.jsonl", pubmed_row, registered_reader("read.pubmed_jsonl"),
         "abstract", "abstract"),
    Spec("read.pmc_jsonl", "jsonl", "pmc.jsonl",
         lambda i: {"pmcid": f"PMC{i}", "title": f"Article {i}", "paragraphs": [_text(i)], "license": "CC BY"},
         registered_reader("read.pmc_jsonl"), "title", "title"),
    Spec("read.pmc_jsonl/bioc", "json_array", "bioc.json",
         lambda i: {"id": f"PMC{i}", "passages": [{"infons": {"section_type": "TITLE"}, "text": f"T{i}"},
                    {"infons": {"section_type": "INTRO"}, "text": _text(i)}]},
         registered_reader("read.pmc_jsonl"), "id", "id", json_layouts=JSON_LAYOUTS),
    Spec("read.kg_triples/jsonl", "jsonl", "kg.jsonl", kg_row, registered_reader("read.kg_triples"), "head", "head"),
    Spec("read.kg_triples/tsv", "tsv", "kg.tsv", lambda i: list(kg_row(i).values()),
         registered_reader("read.kg_triples"), text_field=0, header=["head", "relation", "tail"], csv_quoting=False),
    Spec("read.books", "text", "book.txt", lambda i: f"# Chapter {i}\n\n{_text(i)}\n", registered_reader("read.books")),
    Spec("read.pubmed_xml", "xml", "pubmed.xml", lambda i: i, registered_reader("read.pubmed_xml")),
    Spec("read.pmc_jats", "text", "PMC.xml", jats, registered_reader("read.pmc_jats")),
    # instruction adapters
    Spec("instruct.free_qa/jsonl", "jsonl", "qa.jsonl", qa, registered_reader("instruct.free_qa"), "question",
         "answer"),
    Spec("instruct.free_qa/json", "json_array", "wuma.json", qa, registered_reader("instruct.free_qa"),
         "question", "answer", json_layouts=JSON_LAYOUTS),
    Spec("instruct.mapped_qa/csv", "csv", "qa.csv", lambda i: list(qa(i).values()),
         registered_reader("instruct.mapped_qa", question_field="question", answer_field="answer", task="free_qa"),
         text_field=1, header=["id", "question", "answer"]),
    Spec("instruct.dialogue", "json_array", "CMtMedQA.json", dialogue, registered_reader("instruct.dialogue",
         task="free_qa"), "instruction", "output", json_layouts=JSON_LAYOUTS),  # fmt: skip
    Spec("instruct.huatuo26m", "jsonl", "huatuo.jsonl", lambda i: {"questions": [[qa(i)["question"]]],
         "answers": [qa(i)["answer"]]}, registered_reader("instruct.huatuo26m"), "answers", None),  # fmt: skip
    Spec("instruct.promptcblue", "json_lines_in_json", "train.json", promptcblue,
         registered_reader("instruct.promptcblue"), "input", "sample_id", json_layouts=JSON_LAYOUTS),
    Spec("instruct.medqa", "jsonl", "train.jsonl", medqa, registered_reader("instruct.medqa"), "question",
         "answer_idx"),
    Spec("instruct.medmcqa", "json_lines_in_json", "train.json", medmcqa, registered_reader("instruct.medmcqa"),
         "question", "cop", json_layouts=JSON_LAYOUTS),
    Spec("instruct.cmexam", "csv", "train.csv", cmexam, registered_reader("instruct.cmexam"), text_field=0,
         header=CMEXAM_HEADER),
    Spec("instruct.mmlu", "csv_noheader", "anatomy_dev.csv", mmlu, registered_reader("instruct.mmlu"),
         text_field=0),
    Spec("instruct.mapped_mc", "jsonl", "mc.jsonl", lambda i: {"stem": f"Q{i}?", "choices": ["x", "y"], "key": 1},
         registered_reader("instruct.mapped_mc", task="medqa", fields={"question": "stem", "options": "choices",
                           "answer": "key", "answer_format": "index0"}), "stem", "key"),  # fmt: skip
    Spec("instruct.pubmedqa/keyed", "json_keyed", "ori_pqal.json", pqal, registered_reader("instruct.pubmedqa"),
         "QUESTION", None, json_layouts=("json_keyed_compact",)),
    Spec("instruct.pubmedqa/hub-jsonl", "jsonl", "pqal.jsonl", pqa_hub_row, registered_reader("instruct.pubmedqa"),
         "question", "pubid"),
    Spec("instruct.pubmedqa_labels", "jsonl", "labels.jsonl", label_row, pseudo_labels, None, "pmid"),
    # the labeler's input
    Spec("label.items/pubmedqa-keyed", "json_keyed", "ori_pqau.json", pqal, label_items("pubmedqa"), "QUESTION",
         None, json_layouts=("json_keyed_compact",)),
    Spec("label.items/pubmedqa-jsonl", "jsonl", "pqau.jsonl", pqa_hub_row, label_items("pubmedqa"), "question",
         "pubid"),
    Spec("label.items/jsonl", "jsonl", "items.jsonl", lambda i: {"id": f"i{i}", "question": f"Q{i}?",
         "context": _text(i)}, label_items("jsonl", id="id", question="question", context="context"),
         "question", "id"),  # fmt: skip
]  # fmt: skip
