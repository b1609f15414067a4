"""Decontamination of the stage-1 corpus against PubMedQA's expert-labelled PQA-L.

The paper trains on PubMed abstracts "excluding the abstracts of the expert-level labeled PQA-L ... for avoiding
annotation leakage". Two checks, both counted separately:

- `pqal_pmid`: the document is a PQA-L article (its provenance PMID, or a numeric id, is a PQA-L PMID);
- `pqal_ngram`: the document shares an n-gram (13 normalized tokens by default, see corpusforge/decontam.py) with a
  PQA-L context or long answer, which catches the same abstract under another PMID (errata, reprints, copies in QA
  sites or other corpora).
"""

from __future__ import annotations

from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from corpusforge.decontam import DEFAULT_NGRAM, NGramIndex
from corpusforge.errors import InputError
from corpusforge.formats.pubmedqa import load_items
from corpusforge.pipeline.registry import register


def document_pmid(doc: Document) -> str | None:
    """The PMID a document claims: provenance or metadata `pmid`, else its id within the source when that is a
    bare number (`pubmed:12345`; never a `file:line` id, whose line number is no PMID)."""
    provenance = doc.metadata.get("provenance") or {}
    pmid = provenance.get("pmid") or doc.metadata.get("pmid")
    if pmid is None and doc.id:
        local_id = str(doc.id).split(":", 1)[-1]
        pmid = local_id if local_id.isdigit() else None
    return str(pmid).strip() if pmid is not None else None


@register("decontam.pubmedqa")
class PubMedQADecontamination(BaseFilter):
    """Drop documents that are PQA-L articles (pqal_pmid) or share n-grams with PQA-L text (pqal_ngram)."""

    # pqal_path: a file in ori_pqal.json's layout (the real one is ../shared/data/pubmedqa/ori_pqal.json)
    def __init__(self, pqal_path: str, ngram: int = DEFAULT_NGRAM, check_ids: bool = True, check_ngrams: bool = True):
        super().__init__()
        self.pqal_path = Path(pqal_path)
        if not self.pqal_path.is_file():
            raise InputError(f"{self.pqal_path}: PQA-L file not found (decontam.pubmedqa pqal_path)")
        self.ngram = ngram
        self.check_ids = check_ids
        self.check_ngrams = check_ngrams
        self._pmids: frozenset[str] | None = None
        self._index: NGramIndex | None = None

    def load(self) -> None:
        """Read PQA-L once per task: its PMIDs, and an n-gram index of its contexts and long answers."""
        items = load_items(self.pqal_path)  # a malformed file is an InputError naming it, never a silent skip
        if not items:
            raise InputError(f"{self.pqal_path}: no PQA-L items in this file")
        index = NGramIndex(n=self.ngram)
        if self.check_ngrams:
            for item in items:
                index.add(item.context, f"{item.pmid}:context")
                if item.long_answer:
                    index.add(item.long_answer, f"{item.pmid}:long_answer")
        self._pmids = frozenset(item.pmid for item in items)
        self._index = index

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if self._pmids is None:
            self.load()
        if self.check_ids and document_pmid(doc) in self._pmids:
            return False, "pqal_pmid"
        if self.check_ngrams:
            found = self._index.match(doc.text)
            if found is not None:
                doc.metadata["decontam_match"] = {"ref": found.ref_id, "ngrams": found.ngrams}
                return False, "pqal_ngram"
        return True
