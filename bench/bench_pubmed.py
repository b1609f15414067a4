"""PubMed benchmark: the stage-1 PubMed path (issue 13), corpusforge's fast steps against datatrove's own, side by side.

Generates MEDLINE-baseline-style `.xml.gz` files (PubmedArticleSet; MedlineCitation with authors and affiliations,
MeSH headings, chemicals, keywords, grants; structured abstracts with Label/NlmCategory and plain ones; ~8% without
an abstract; DeleteCitation blocks; PubmedData with history, ids and references; ~4.5 KB of XML per article), with
planted near-duplicates, exact duplicates, PQA-L articles and PQA-L sentences, short and repetitive abstracts. Then
builds, through `corpusforge build`, the chain

    read.pubmed_xml -> decontam.pubmedqa (real PQA-L when ../shared/data/pubmedqa is there) -> filter.gopher_quality
    -> filter.gopher_repetition -> clean.characters, filter.bad_characters, filter.length -> exact + MinHash dedup
    -> parquet

with `implementation: fast` (the default) and with `implementation: datatrove` (datatrove's own Gopher and MinHash
steps), and prints: documents per CPU-second and wall docs/s of both and of the XML parse floor (stdlib iterparse,
title + abstract only); keep/drop agreement between the two, per filter and on the built datasets, with examples
of any difference; MinHash recall of the planted near-duplicate pairs; 1 vs 2 workers; peak RSS at N and 10N.

    python bench/bench_pubmed.py                          # N = 40,000 articles, all parts (~25 min on 2 cores)
    python bench/bench_pubmed.py --docs 8000 --parts compare agreement
    python bench/bench_pubmed.py --datatrove-docs 40000   # the datatrove chain on all N articles (~15 min more)

Targets (issue 13): >= 500 documents per CPU-second end to end with one worker; 2 workers >= 1.8x the wall
throughput of one; peak RSS flat in N; keep/drop agreement >= 99.5%; near-duplicate recall >= datatrove's.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import new_parser, scratch  # noqa: E402
from bench_build import mb, run_measured  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REAL_PQAL = ROOT.parent / "shared" / "data" / "pubmedqa" / "ori_pqal.json"
SAMPLE_PQAL = ROOT / "data" / "samples" / "pubmedqa" / "ori_pqal_sample.json"
PARTS = ["compare", "agreement", "workers", "memory"]

FUNCTION_WORDS = (
    "the of and in to a with was were for that is by on as at from or be this an are which these patients than "
    "not between after we have had but our both during all more its their there been it into who may also can "
    "however has only other such no compared among within while most significantly higher lower than those"
).split()
CONTENT_WORDS = (
    "patients treatment study results disease clinical group risk analysis cells data associated increased effect "
    "years levels expression cancer therapy outcomes age significant trial cohort mortality controls children women "
    "blood protein function model response samples factors incidence prevalence surgery infection diagnosis dose "
    "hospital survival care health gene tumor receptor activity plasma serum acute chronic randomized prospective "
    "retrospective multivariate regression baseline follow-up median mean ratio hazard odds confidence interval "
    "primary secondary endpoint adverse events placebo intervention population evidence review guidelines injury "
    "kidney heart liver lung brain bone muscle insulin glucose diabetes hypertension obesity stroke sepsis asthma "
    "inflammation pathway signaling mutation phenotype genotype biomarker imaging ultrasound tomography biopsy"
).split()
SYLLABLES = "ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo ga ge gi go la le li lo lu ma me mi mo mu na ne ni no nu pa pe pi po ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo xa xi za zo ph th ch st tr cr pl".split()  # noqa: E501
SUFFIXES = ["", "", "", "ase", "itis", "ine", "ide", "osis", "ol", "in", "al", "ic", "ous", "emia", "ectomy", "ated"]
SECTIONS = [("BACKGROUND", "BACKGROUND"), ("OBJECTIVE", "OBJECTIVE"), ("METHODS", "METHODS"), ("RESULTS", "RESULTS"),
            ("CONCLUSIONS", "CONCLUSIONS")]  # fmt: skip


class Vocabulary:
    """Zipf-distributed words over a long tail of generated terms, so that word caches see realistic misses."""

    def __init__(self, rng: random.Random, tail: int = 150_000):
        seen = set(FUNCTION_WORDS) | set(CONTENT_WORDS)
        terms = []
        while len(terms) < tail:
            word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 5))) + rng.choice(SUFFIXES)
            if word not in seen:
                seen.add(word)
                terms.append(word)
        self.content = CONTENT_WORDS + terms
        weights = [1 / (rank + 1) ** 1.05 for rank in range(len(self.content))]
        self.rng = rng
        self._draws = rng.choices(self.content, weights=weights, k=1 << 20)  # Zipf draws, used in turn
        self._next = 0

    def content_word(self) -> str:
        self._next = (self._next + 1) & ((1 << 20) - 1)
        return self._draws[self._next]

    def number(self) -> str:
        r, rng = self.rng.random(), self.rng
        if r < 0.3:
            return str(rng.randint(2, 2000))
        if r < 0.5:
            return f"{rng.uniform(0, 100):.1f}%"
        if r < 0.65:
            return f"(p {rng.choice(['<', '=', '>'])} 0.{rng.randint(1, 999):03d})"
        if r < 0.8:
            lo = rng.uniform(0.2, 3)
            return f"(95% CI {lo:.2f}-{lo + rng.uniform(0.1, 2):.2f})"
        if r < 0.9:
            return f"(n = {rng.randint(10, 5000)})"
        return f"{rng.randint(1, 90)} mg/kg"

    def sentence(self) -> str:
        rng = self.rng
        self._next = rng.randrange(1 << 20)  # each sentence reads the draws from its own place: no repeated runs
        words = []
        for _ in range(rng.randint(12, 30)):
            r = rng.random()
            if r < 0.45:
                words.append(rng.choice(FUNCTION_WORDS))
            elif r < 0.93:
                word = self.content_word()
                if rng.random() < 0.04:
                    word = f"{word}-{self.content_word()}"
                elif rng.random() < 0.03:
                    word = f"({word.upper()[:4]})"
                words.append(word)
            else:
                words.append(self.number())
        words[0] = words[0].capitalize()
        return " ".join(words) + rng.choice([".", ".", ".", ";", ":"]).replace(";", ".").replace(":", ".")

    def paragraph(self, sentences: int) -> str:
        return " ".join(self.sentence() for _ in range(sentences))


def perturb(text: str, rng: random.Random, rate: float = 0.02) -> str:
    """A near-duplicate: about `rate` of the words replaced or dropped (e.g. a re-published abstract)."""
    words = text.split(" ")
    out = []
    for w in words:
        r = rng.random()
        if r < rate / 2:
            continue
        out.append("modified" if r < rate else w)
    return " ".join(out)


def article_xml(pmid: int, title: str, abstract: list[tuple[str, str]] | None, rng: random.Random, voc) -> str:
    authors = "".join(
        f'<Author ValidYN="Y"><LastName>{voc.content_word().capitalize()}</LastName>'
        f"<ForeName>{rng.choice(['Anna', 'Wei', 'Maria', 'John', 'Li', 'Sara', 'Ahmed', 'Yuki'])}</ForeName>"
        f"<Initials>{rng.choice('ABCDEFGHJKLMNPRSTWY')}</Initials><AffiliationInfo><Affiliation>Department of "
        f"{voc.content_word().capitalize()}, University Hospital of {voc.content_word().capitalize()}, "
        f"{rng.choice(['Boston, MA, USA', 'Beijing, China', 'Lyon, France', 'Osaka, Japan'])}.</Affiliation>"
        f"</AffiliationInfo></Author>"
        for _ in range(rng.randint(4, 12))
    )
    mesh = "".join(
        f'<MeshHeading><DescriptorName UI="D{rng.randint(1, 99999):06d}" MajorTopicYN="N">'
        f"{voc.content_word().capitalize()}</DescriptorName>"
        + (
            f'<QualifierName UI="Q{rng.randint(1, 999):06d}" MajorTopicYN="Y">{rng.choice(["therapy", "metabolism"])}'
            "</QualifierName>"
            if rng.random() < 0.5
            else ""
        )
        + "</MeshHeading>"
        for _ in range(rng.randint(5, 14))
    )
    chemicals = "".join(
        f"<Chemical><RegistryNumber>{rng.randint(1, 99999)}-{rng.randint(10, 99)}-{rng.randint(1, 9)}</RegistryNumber>"
        f'<NameOfSubstance UI="D{rng.randint(1, 99999):06d}">{voc.content_word()}</NameOfSubstance></Chemical>'
        for _ in range(rng.randint(0, 4))
    )
    if abstract:
        sections = "".join(
            f'<AbstractText Label="{label}" NlmCategory="{label}">{escape(text)}</AbstractText>'
            if label
            else f"<AbstractText>{escape(text)}</AbstractText>"
            for label, text in abstract
        )
        abstract_xml = (
            f"<Abstract>{sections}<CopyrightInformation>© 2024 The Authors.</CopyrightInformation></Abstract>"
        )
    else:
        abstract_xml = ""
    year = rng.randint(1975, 2024)
    refs = "".join(
        f"<Reference><Citation>{escape(voc.sentence())}</Citation><ArticleIdList>"
        f'<ArticleId IdType="pubmed">{rng.randint(1000000, 39000000)}</ArticleId></ArticleIdList></Reference>'
        for _ in range(rng.randint(1, 6))
    )
    return (
        f'<PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM" IndexingMethod="Automated">'
        f'<PMID Version="1">{pmid}</PMID><DateCompleted><Year>{year}</Year><Month>0{rng.randint(1, 9)}</Month>'
        f"<Day>1{rng.randint(0, 9)}</Day></DateCompleted><DateRevised><Year>2024</Year><Month>01</Month><Day>05</Day>"
        f'</DateRevised><Article PubModel="Print-Electronic"><Journal><ISSN IssnType="Electronic">'
        f'{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}</ISSN><JournalIssue CitedMedium="Internet"><Volume>'
        f"{rng.randint(1, 120)}</Volume><Issue>{rng.randint(1, 12)}</Issue><PubDate><Year>{year}</Year><Month>Feb"
        f"</Month></PubDate></JournalIssue><Title>Journal of {voc.content_word().capitalize()} Medicine</Title>"
        f"<ISOAbbreviation>J Med</ISOAbbreviation></Journal><ArticleTitle>{escape(title)}</ArticleTitle>"
        f"<Pagination><StartPage>{rng.randint(1, 900)}</StartPage><MedlinePgn>1-10</MedlinePgn></Pagination>"
        f'<ELocationID EIdType="doi" ValidYN="Y">10.{rng.randint(1000, 9999)}/jm.{pmid}</ELocationID>{abstract_xml}'
        f'<AuthorList CompleteYN="Y">{authors}</AuthorList><Language>eng</Language><GrantList CompleteYN="Y"><Grant>'
        f"<GrantID>R01 {rng.randint(10000, 99999)}</GrantID><Agency>NIH HHS</Agency><Country>United States</Country>"
        f'</Grant></GrantList><PublicationTypeList><PublicationType UI="D016428">Journal Article</PublicationType>'
        f'</PublicationTypeList><ArticleDate DateType="Electronic"><Year>{year}</Year><Month>01</Month><Day>15'
        f"</Day></ArticleDate></Article><MedlineJournalInfo><Country>England</Country><MedlineTA>J Med</MedlineTA>"
        f"<NlmUniqueID>{rng.randint(100000000, 999999999)}</NlmUniqueID><ISSNLinking>1234-5678</ISSNLinking>"
        f"</MedlineJournalInfo><ChemicalList>{chemicals}</ChemicalList><CitationSubset>IM</CitationSubset>"
        f'<MeshHeadingList>{mesh}</MeshHeadingList><KeywordList Owner="NOTNLM"><Keyword MajorTopicYN="N">'
        f'{voc.content_word()}</Keyword><Keyword MajorTopicYN="N">{voc.content_word()}</Keyword></KeywordList>'
        f'</MedlineCitation><PubmedData><History><PubMedPubDate PubStatus="received"><Year>{year}</Year><Month>3'
        f'</Month><Day>2</Day></PubMedPubDate><PubMedPubDate PubStatus="pubmed"><Year>{year}</Year><Month>5</Month>'
        f"<Day>9</Day></PubMedPubDate></History><PublicationStatus>ppublish</PublicationStatus><ArticleIdList>"
        f'<ArticleId IdType="pubmed">{pmid}</ArticleId><ArticleId IdType="doi">10.{rng.randint(1000, 9999)}/jm.{pmid}'
        f"</ArticleId></ArticleIdList><ReferenceList>{refs}</ReferenceList></PubmedData></PubmedArticle>\n"
    )


def pqal_items(path: Path) -> list[tuple[str, str]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(pmid, " ".join(item["CONTEXTS"])) for pmid, item in data.items()]


def generate(folder: Path, n: int, files: int, pqal: Path, seed: int = 0) -> dict:
    """`files` .xml.gz baseline-style files holding n articles; returns what was planted (PMIDs)."""
    rng = random.Random(seed)
    voc = Vocabulary(random.Random(seed + 1))
    contexts = pqal_items(pqal)
    planted: dict = {"near_dup_pairs": [], "exact_dup_pairs": [], "pqal_pmid": [], "pqal_ngram": []}
    folder.mkdir(parents=True, exist_ok=True)
    per_file = -(-n // files)
    recent: list[tuple[int, str, list]] = []
    pmid = 30_000_000
    for f in range(files):
        with gzip.open(folder / f"pubmed25n{f + 1:04d}.xml.gz", "wt", encoding="utf-8", compresslevel=3) as out:
            out.write(
                '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle,'
                ' 1st January 2025//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">\n'
                "<PubmedArticleSet>\n"
            )
            for _ in range(min(per_file, n - f * per_file)):
                pmid += 1
                r = rng.random()
                title = voc.sentence()
                if r < 0.02 and recent:  # a near-duplicate of a recent article
                    src_pmid, title, abstract = rng.choice(recent)
                    abstract = [(label, perturb(text, rng)) for label, text in abstract]
                    planted["near_dup_pairs"].append((str(src_pmid), str(pmid)))
                elif r < 0.025 and recent:
                    src_pmid, title, abstract = rng.choice(recent)
                    planted["exact_dup_pairs"].append((str(src_pmid), str(pmid)))
                elif r < 0.027:
                    context_pmid, context = rng.choice(contexts)
                    this = int(context_pmid)
                    abstract = [("", context)]
                    planted["pqal_pmid"].append(context_pmid)
                    out.write(article_xml(this, title, abstract, rng, voc))
                    continue
                elif r < 0.029:
                    _, context = rng.choice(contexts)
                    abstract = [("", voc.paragraph(3) + " " + context[:400] + " " + voc.paragraph(2))]
                    planted["pqal_ngram"].append(str(pmid))
                elif r < 0.039:
                    abstract = [("", voc.sentence())]  # too short for Gopher quality
                elif r < 0.044:
                    phrase = voc.sentence()
                    abstract = [("", " ".join([phrase] * 6))]  # repetitive
                elif r < 0.124:
                    abstract = None  # no abstract (letters, comments)
                elif r < 0.5:
                    abstract = [(label, voc.paragraph(rng.randint(1, 3))) for label, _ in SECTIONS]
                else:
                    abstract = [("", voc.paragraph(rng.randint(6, 11)))]
                if abstract and len(recent) < 2000:
                    recent.append((pmid, title, abstract))
                elif abstract:
                    recent[rng.randrange(len(recent))] = (pmid, title, abstract)
                out.write(article_xml(pmid, title, abstract, rng, voc))
            deleted = "".join(f'<PMID Version="1">{rng.randint(1000000, 29000000)}</PMID>' for _ in range(5))
            out.write(f"<DeleteCitation>{deleted}</DeleteCitation>\n</PubmedArticleSet>\n")
    return planted


# ---- builds ----------------------------------------------------------------------------------------------------------
def recipe(src: Path, out: Path, pqal: Path, implementation: str, tasks: int, workers: int) -> dict:
    """The stage-1 PubMed source and shared filters of recipes/stage1.yaml, alone, with one implementation."""
    return {
        "name": "bench-pubmed",
        "seed": 1234,
        "output": {"path": str(out)},
        "executor": {"type": "local", "tasks": tasks, "workers": workers},
        "sources": {
            "pubmed": {
                "reader": {"type": "read.pubmed_xml", "path": str(src)},
                "steps": [
                    {"type": "decontam.pubmedqa", "pqal_path": str(pqal), "ngram": 13},
                    {
                        "type": "filter.gopher_quality",
                        "min_doc_words": 30,
                        "min_stop_words": 2,
                        "max_non_alpha_words_ratio": 0.6,
                        "implementation": implementation,
                    },
                    {"type": "filter.gopher_repetition", "implementation": implementation},
                ],
            }
        },
        "filters": [
            {"type": "clean.characters", "normalization": "NFC"},
            {"type": "filter.bad_characters", "max_replacement_ratio": 0.01, "min_letter_ratio": 0.3},
            {"type": "filter.length", "min_chars": 20, "max_chars": 100000},
        ],
        "dedup": {
            "exact": {"enabled": True},
            "minhash": {
                "enabled": True,
                "n_grams": 5,
                "num_buckets": 14,
                "hashes_per_bucket": 8,
                "implementation": implementation,
            },
        },
    }


def build(src: Path, out: Path, pqal: Path, implementation: str, tasks: int, workers: int):
    import yaml

    path = out.parent / f"{out.name}.yaml"
    path.write_text(yaml.safe_dump(recipe(src, out, pqal, implementation, tasks, workers)))
    return run_measured([sys.executable, "-c", "from corpusforge.cli import main; main()", "build", str(path)])


def kept_ids(out: Path) -> set[str]:
    import pyarrow.parquet as pq

    ids: set[str] = set()
    for shard in sorted((out / "data").rglob("*.parquet")):
        ids.update(pq.read_table(shard, columns=["id"]).column("id").to_pylist())
    return ids


def near_dup_recall(ids: set[str], planted: dict) -> tuple[int, int]:
    """Planted near-duplicate pairs whose source survived the filters, and of those how many lost one of the two."""
    pairs = [(a, b) for a, b in planted["near_dup_pairs"]]
    eligible = found = 0
    for a, b in pairs:
        a_id, b_id = f"pubmed:{a}", f"pubmed:{b}"
        both_candidates = a_id in ids or b_id in ids
        if not both_candidates:
            continue
        eligible += 1
        found += (a_id in ids) != (b_id in ids)
    return found, eligible


# ---- in-process measurements -------------------------------------------------------------------------------------
def parse_floor(src: Path) -> tuple[int, float, float]:
    """The XML parse floor: stream every file with the standard library, extract title and abstract text."""
    n = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for path in sorted(src.glob("*.xml.gz")):
        with gzip.open(path, "rb") as f:
            for _, element in ET.iterparse(f, events=("end",)):
                if element.tag == "PubmedArticle":
                    title = "".join(element.find("MedlineCitation/Article/ArticleTitle").itertext())
                    abstract = [
                        "".join(t.itertext())
                        for t in element.iterfind("MedlineCitation/Article/Abstract/AbstractText")
                    ]
                    n += bool(title) + 0 * len(abstract)
                    element.clear()
    return n, time.perf_counter() - wall, time.process_time() - cpu


def reader_documents(src: Path, pqal: Path, limit: int):
    from corpusforge.pipeline.readers.pubmed import PubMedXMLReader
    from corpusforge.pipeline.steps.decontam import PubMedQADecontamination

    reader = PubMedXMLReader(path=str(src), source="pubmed")
    docs = []
    for doc in PubMedQADecontamination(str(pqal)).run(reader.run()):
        docs.append(doc)
        if len(docs) >= limit:
            break
    return docs


def agreement(src: Path, pqal: Path, limit: int) -> None:
    """Per filter, on the same documents: the fast implementation's decision and reason against datatrove's."""
    from corpusforge.pipeline.steps.filters import GopherQuality, GopherRepetition

    docs = reader_documents(src, pqal, limit)
    quality = {"min_doc_words": 30, "min_stop_words": 2, "max_non_alpha_words_ratio": 0.6}
    checks = [
        ("filter.gopher_quality", GopherQuality(**quality), GopherQuality(**quality, implementation="datatrove")),
        ("filter.gopher_repetition", GopherRepetition(), GopherRepetition(implementation="datatrove")),
    ]
    for name, fast, reference in checks:
        t0 = time.process_time()
        fast_results = [fast.filter(d) for d in docs]
        t1 = time.process_time()
        ref_results = [reference.filter(d) for d in docs]
        t2 = time.process_time()
        keep_same = sum(bool(_kept(a)) == bool(_kept(b)) for a, b in zip(fast_results, ref_results))
        exact_same = sum(a == b for a, b in zip(fast_results, ref_results))
        print(
            f"{name:<25}: keep/drop agreement {keep_same / len(docs):.4%} ({keep_same}/{len(docs)}), same reason "
            f"{exact_same / len(docs):.4%}; {len(docs) / (t1 - t0):8.0f} docs/CPU-s fast, "
            f"{len(docs) / (t2 - t1):6.0f} datatrove ({(t2 - t1) / (t1 - t0):.1f}x)"
        )
        for doc, a, b in [(d, a, b) for d, a, b in zip(docs, fast_results, ref_results) if a != b][:5]:
            print(f"    differs on {doc.id}: fast {a!r}, datatrove {b!r}: {doc.text[:100]!r}")
    _minhash_agreement(docs)


def _kept(result) -> bool:
    return result[0] if isinstance(result, tuple) else bool(result)


def _minhash_agreement(docs) -> None:
    import numpy as np
    from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

    from corpusforge.pipeline.steps.minhash import FastMinhashDedupSignature

    config = MinhashConfig(n_grams=5, num_buckets=14, hashes_per_bucket=8, seed=1235)
    with tempfile.TemporaryDirectory() as tmp:
        fast = FastMinhashDedupSignature(tmp, config, language="eng")
        reference = MinhashDedupSignature(tmp, config, language="eng")
        t0 = time.process_time()
        a = [fast.get_shingles(d.text) for d in docs]
        t1 = time.process_time()
        b = [reference.get_shingles(d.text) for d in docs]
        t2 = time.process_time()
    same = sum(np.array_equal(x, y) for x, y in zip(a, b))
    print(
        f"{'minhash shingles':<25}: identical for {same / len(docs):.4%} ({same}/{len(docs)}); "
        f"{len(docs) / (t1 - t0):8.0f} docs/CPU-s fast, {len(docs) / (t2 - t1):6.0f} datatrove "
        f"({(t2 - t1) / (t1 - t0):.1f}x)"
    )


# ---- parts -----------------------------------------------------------------------------------------------------------
def compare(tmp: Path, args, pqal: Path) -> dict:
    n = args.datatrove_docs or args.docs
    src = tmp / f"src{n}"
    planted = generate(src, n, files=args.files, pqal=pqal)
    count, wall, cpu = parse_floor(src)
    print(f"# {n} articles in {args.files} files ({_size(src)}), tasks={args.files} workers=1; PQA-L: {pqal}")
    print(f"{'XML parse floor':<30}: {count / cpu:8.0f} docs/CPU-s  {count / wall:8.0f} docs/s (stdlib iterparse)")
    results = {}
    for impl in ("fast", "datatrove"):
        out = tmp / f"cmp_{impl}"
        t, rss, cpu = build(src, out, pqal, impl, args.files, 1)
        results[impl] = (t, cpu, kept_ids(out))
        label = "corpusforge (fast)" if impl == "fast" else "datatrove's own steps"
        print(
            f"{label:<30}: {n / cpu:8.1f} docs/CPU-s  {n / t:8.1f} docs/s  ({t:.1f} s, {cpu:.1f} CPU s, RSS {mb(rss)})"
        )
        shutil.rmtree(out)
    (ft, fcpu, fids), (dt, dcpu, dids) = results["fast"], results["datatrove"]
    print(f"fast / datatrove: {dcpu / fcpu:.1f}x per CPU-second, {dt / ft:.1f}x wall; {_load()}")
    union = fids | dids
    print(
        f"built datasets: {len(fids)} kept (fast) vs {len(dids)} (datatrove); {len(fids & dids)} in both, "
        f"{len(fids - dids)} only fast, {len(dids - fids)} only datatrove "
        f"(agreement on kept ids {len(fids & dids) / max(len(union), 1):.4%})"
    )
    for impl, ids in (("fast", fids), ("datatrove", dids)):
        found, eligible = near_dup_recall(ids, planted)
        print(f"near-duplicate recall ({impl}): {found}/{eligible} planted pairs = {found / max(eligible, 1):.2%}")
    shutil.rmtree(src)
    return results


def main_rate(tmp: Path, args, pqal: Path) -> None:
    """1 vs 2 workers, alternated `--repeats` times (the other tenants of a shared machine move wall times by 20-40%
    from one minute to the next): the best wall of each, and the median ratio of back-to-back pairs."""
    n = args.docs
    src = tmp / f"src{n}"
    if not src.exists():
        generate(src, n, files=args.files, pqal=pqal)
    runs: dict[int, list[tuple[float, int, float]]] = {1: [], 2: []}
    for r in range(args.repeats):
        for workers in (1, 2) if r % 2 == 0 else (2, 1):
            out = tmp / f"w{workers}"
            runs[workers].append(build(src, out, pqal, "fast", args.files, workers))
            shutil.rmtree(out)
            t, _, c = runs[workers][-1]
            print(f"  {workers} worker(s): {t:.1f} s wall, {c:.1f} CPU s; {_load()}", flush=True)
    (t1, rss1, c1), (t2, rss2, c2) = (min(rs) for rs in (runs[1], runs[2]))
    pairs = statistics.median(a[0] / b[0] for a, b in zip(runs[1], runs[2]))
    print(f"# {n} articles, corpusforge fast path, tasks={args.files}, best of {args.repeats}")
    print(f"1 worker : {n / c1:8.1f} docs/CPU-s  {n / t1:8.1f} docs/s  ({t1:.1f} s, {c1:.1f} CPU s)  RSS {mb(rss1)}"
          "  (target >= 500 docs/CPU-s)")  # fmt: skip
    print(f"2 workers: {n / c2:8.1f} docs/CPU-s  {n / t2:8.1f} docs/s  ({t2:.1f} s, {c2:.1f} CPU s)  RSS {mb(rss2)}")
    ceiling, loop_s = machine_scaling()
    print(f"2 workers / 1 worker wall throughput: {t1 / t2:.2f}x best of each, {pairs:.2f}x median of "
          f"back-to-back pairs (target >= 1.8); this machine's own ceiling now (a busy loop, 1 vs 2 processes): "
          f"{ceiling:.2f}x; one core now runs the loop in {loop_s:.2f} s "
          "(a slower host gives fewer docs/CPU-s)")  # fmt: skip
    per_core = n / c1
    print(
        f"on paper: 36M abstracts at {per_core:.0f} docs/CPU-s on 128 cores = {36e6 / per_core / 128 / 60:.1f} min "
        "(perfect scaling; Slurm or Ray executor)"
    )


def memory(tmp: Path, args, pqal: Path) -> None:
    results = {}
    for n in (args.docs, 10 * args.docs):
        src = tmp / f"mem{n}"
        generate(src, n, files=max(args.files, n // 20_000), pqal=pqal, seed=7)
        out = tmp / f"mem_out{n}"
        t, rss, cpu = build(src, out, pqal, "fast", args.files, 2)
        results[n] = rss
        print(f"{n:>9} articles, 2 workers: {n / cpu:8.1f} docs/CPU-s  {n / t:8.1f} docs/s  peak RSS {mb(rss)}")
        shutil.rmtree(out)
        shutil.rmtree(src)
    print(f"peak RSS at 10N / N: {results[10 * args.docs] / results[args.docs]:.2f}x (flat: ~1)")


def _busy_loop(n: int = 20_000_000) -> int:
    x = 0
    for i in range(n):
        x += i & 7
    return x


def machine_scaling(rounds: int = 3) -> tuple[float, float]:
    """This machine's own 2-process ceiling right now: one pure-Python loop alone vs two copies at once (best of
    `rounds`), and the loop's time alone. Two vCPUs that share a physical core, or a busy host, give well under 2x
    to any program; the loop's time says how fast a core is now, to compare docs/CPU-s between runs."""
    import multiprocessing

    def timed(procs: int) -> float:
        started = time.perf_counter()
        workers = [multiprocessing.Process(target=_busy_loop) for _ in range(procs)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        return time.perf_counter() - started

    pairs = [(timed(1), timed(2)) for _ in range(rounds)]
    return max(2 * one / two for one, two in pairs), min(one for one, _ in pairs)


def _load() -> str:
    """Other tenants' load: on a shared 2-core machine it slows wall time and inflates CPU seconds too."""
    return "load average {:.1f} {:.1f} {:.1f} on {} CPUs".format(*os.getloadavg(), os.cpu_count())


def _size(folder: Path) -> str:
    return mb(sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()))


def main() -> None:
    parser = new_parser(__doc__)
    parser.add_argument("--docs", type=int, default=40_000, help="N: articles of the main runs (10N for memory)")
    parser.add_argument(
        "--datatrove-docs", type=int, default=8_000, help="articles of the side-by-side comparison (0: N)"
    )
    parser.add_argument("--files", type=int, default=2, help=".xml.gz files = tasks")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS)
    parser.add_argument("--agreement-docs", type=int, default=10_000, help="documents of the per-filter agreement")
    parser.add_argument("--pqal", type=Path, help="PQA-L file (default: the real one when present, else the sample)")
    parser.add_argument("--repeats", type=int, default=3, help="alternated 1- and 2-worker runs (workers part)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    pqal = args.pqal or (REAL_PQAL if REAL_PQAL.is_file() else SAMPLE_PQAL)
    with scratch("cf-bench-pubmed-", args.keep) as tmp:
        if "compare" in args.parts:
            compare(tmp, args, pqal)
        if "agreement" in args.parts:
            src = tmp / "agree"
            generate(src, args.agreement_docs, files=1, pqal=pqal, seed=3)
            print(f"# per-filter agreement on {args.agreement_docs} generated articles (after decontamination)")
            agreement(src, pqal, args.agreement_docs)
            shutil.rmtree(src)
        if "workers" in args.parts:
            main_rate(tmp, args, pqal)
        if "memory" in args.parts:
            memory(tmp, args, pqal)


if __name__ == "__main__":
    main()
