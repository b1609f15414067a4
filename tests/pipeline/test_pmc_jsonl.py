"""read.pmc_jsonl on the published layouts of PMC-derived JSON (flat text, paragraphs, sections, IMRaD, BioC),
and read.pubmed_jsonl's PMCID fallback."""

from __future__ import annotations

import json

from corpusforge.pipeline.readers.pmc_jsonl import PMCJsonlReader
from corpusforge.pipeline.readers.pubmed import PubMedJSONLReader
from tests.pipeline.helpers import run_reader

ROWS = [
    # the pmc/open_access loader's layout: accession_id, pmid (may be empty), license, text
    {"accession_id": "PMC100", "pmid": "", "title": "Flat", "license": "CC BY", "text": "Body one.\n\nBody two."},
    # paragraphs as objects with their section
    {
        "pmcid": "200",
        "pmid": 12345,
        "title": "Paragraphs",
        "abstract": "An abstract.",
        "paragraphs": [
            {"section": "Introduction", "text": "Intro one."},
            {"section": "Introduction", "text": "Intro two."},
            {"section": "Methods", "text": "We did it."},
        ],
    },
    # sections with titles and paragraph lists
    {
        "pmcid": "PMC300",
        "title": "Sections",
        "license": "https://creativecommons.org/licenses/by-nc-nd/4.0/",
        "sections": [{"title": "Results", "paragraphs": ["It worked.", "Twice."]}, {"title": "Empty", "text": ""}],
    },
    # the XML-parsed dumps' IMRaD fields
    {"accession_id": "PMC400", "title": "IMRaD", "introduction": "Why.", "methods": "How.", "discussion": "So."},
    # a BioC document (PMC's BioC API)
    {
        "id": "PMC500",
        "infons": {"license": "CC0"},
        "passages": [
            {"infons": {"section_type": "TITLE", "type": "front"}, "text": "BioC title"},
            {"infons": {"section_type": "ABSTRACT", "type": "abstract"}, "text": "BioC abstract."},
            {"infons": {"section_type": "INTRO", "type": "title_1"}, "text": "Introduction"},
            {"infons": {"section_type": "INTRO", "type": "paragraph"}, "text": "BioC body."},
            {"infons": {"section_type": "TABLE", "type": "table"}, "text": "1 2 3"},
            {"infons": {"section_type": "REF", "type": "ref"}, "text": "Smith J. 2020."},
        ],
    },
    {"title": "No id at all", "text": "x"},  # quarantined: no id
    {"pmcid": "PMC700", "text": "No title"},  # quarantined: no title
    {"pmcid": "PMC800", "title": "Nothing but a title"},  # dropped: no_text
    {"pmcid": "PMC900", "title": "Bad", "paragraphs": "not a list"},  # quarantined: bad_field
]


def test_every_layout_reads_and_every_row_is_accounted_for(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "pmc.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    reader = PMCJsonlReader(path=str(tmp_path / "in"), source="pmc", quarantine_dir=tmp_path / "q", license="mit")
    docs, stats, quarantine = run_reader(reader, tmp_path / "q")
    by_id = {d.id: d for d in docs}
    assert list(by_id) == ["pmc:PMC100", "pmc:12345", "pmc:PMC300", "pmc:PMC400", "pmc:PMC500"]
    assert by_id["pmc:PMC100"].text == "Flat\n\nBody one.\n\nBody two."
    assert by_id["pmc:12345"].text == (
        "Paragraphs\n\nAn abstract.\n\nIntroduction\n\nIntro one.\n\nIntro two.\n\nMethods\n\nWe did it."
    )
    assert by_id["pmc:12345"].metadata["pmcid"] == "PMC200"
    assert by_id["pmc:PMC300"].text == "Sections\n\nResults\n\nIt worked.\n\nTwice."
    assert by_id["pmc:PMC400"].text == "IMRaD\n\nWhy.\n\nHow.\n\nSo."
    assert by_id["pmc:PMC500"].text == "BioC title\n\nBioC abstract.\n\nIntroduction\n\nBioC body."
    licences = {d.id: d.metadata["license"] for d in docs}
    assert licences == {
        "pmc:PMC100": "cc-by",
        "pmc:12345": "mit",  # the recipe's, the row states none
        "pmc:PMC300": "cc-by-nc-nd-4.0",
        "pmc:PMC400": "mit",
        "pmc:PMC500": "cc0-1.0",
    }
    assert stats["records"] == len(ROWS) == len(docs) + stats["dropped"] + stats["quarantined"]
    assert stats["dropped_no_text"] == 1
    assert sorted(q["reason"] for q in quarantine) == ["bad_field", "missing_field", "missing_field"]
    assert any("no article id" in q["error"] for q in quarantine)


def test_pubmed_jsonl_reads_rows_without_pmid_under_their_pmcid(tmp_path):
    (tmp_path / "in").mkdir()
    rows = [
        {"pmid": "1", "title": "T", "abstract": "A."},
        {"pmid": None, "pmcid": "PMC9", "title": "T", "abstract": "A."},
        {"pmcid": "10", "title": "T", "abstract": "A."},
        {"title": "T", "abstract": "A."},
    ]
    (tmp_path / "in" / "x.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    reader = PubMedJSONLReader(path=str(tmp_path / "in"), source="pm", quarantine_dir=tmp_path / "q")
    docs, _, quarantine = run_reader(reader, tmp_path / "q")
    assert [d.id for d in docs] == ["pm:1", "pm:PMC9", "pm:PMC10"]
    assert docs[1].metadata["pmcid"] == "PMC9" and "pmid" not in docs[1].metadata
    assert [q["reason"] for q in quarantine] == ["missing_field"]
