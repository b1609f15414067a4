"""read.pmc_jats on JATS variants written here (and on the real PMC articles in ../shared/data/real when present)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpusforge.pipeline.readers.pmc import PMCJatsReader
from tests.pipeline.helpers import run_reader

REAL = Path(__file__).resolve().parents[3] / "shared" / "data" / "real" / "pmc_jats"
DOCTYPE = (
    '<!DOCTYPE article PUBLIC "-//NLM//DTD JATS (Z39.96) Journal Archiving and Interchange DTD with MathML3 v1.3 '
    '20210610//EN" "JATS-archivearticle1-3-mathml3.dtd">\n'
)


def article(ids: str, body: str = "", back: str = "", abstract: str = "<abstract><p>An abstract.</p></abstract>"):
    return (
        '<article xmlns:mml="http://www.w3.org/1998/Math/MathML" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'article-type="research-article"><front><journal-meta><journal-title-group><journal-title>DEN Open'
        "</journal-title></journal-title-group></journal-meta><article-meta>"
        f"{ids}<title-group><article-title>Remimazolam <italic>versus</italic> midazolam</article-title>"
        f"</title-group><pub-date><year>2024</year></pub-date>{abstract}</article-meta></front>"
        f"<body>{body}</body><back>{back}</back></article>"
    )


BODY = """<sec><title>INTRODUCTION</title>
<p>Colonoscopy is recommended for early detection.<xref rid="b1" ref-type="bibr"><sup>1</sup></xref>,
<xref rid="b2" ref-type="bibr"><sup>2</sup></xref> Sedation improves tolerability [<xref ref-type="bibr" rid="b3">3</xref>,
<xref ref-type="bibr" rid="b4">4</xref>]. Features <inline-formula><mml:math><mml:msub><mml:mi>F</mml:mi><mml:mn>1</mml:mn>
</mml:msub></mml:math></inline-formula> were used (<xref ref-type="fig" rid="f1">Figure 1</xref>).</p>
<fig id="f1"><label>Figure 1</label><caption><p>Study flow.</p></caption><graphic xlink:href="f1.jpg"/></fig>
<sec><title>Aim</title><p>To compare two sedatives.</p>
<disp-formula><tex-math>E = mc^2</tex-math></disp-formula>
<table-wrap><label>Table 1</label><caption><p>Baseline characteristics.</p></caption>
<table><tr><th>Age</th><th>Sex</th></tr><tr><td>66</td><td>M</td></tr></table></table-wrap>
<list><list-item><p>first point</p></list-item><list-item><p>second point</p></list-item></list></sec></sec>
<sec sec-type="supplementary-material"><title>Supporting information</title>
<supplementary-material><caption><p>Table S1.</p></caption></supplementary-material></sec>"""
BACK = """<ack><title>ACKNOWLEDGMENTS</title><p>We thank the nurses.</p></ack>
<fn-group><fn><p>Conflict of interest: none.</p></fn></fn-group>
<ref-list><title>REFERENCES</title><ref id="b1"><mixed-citation>Smith J. Colonoscopy. Gut. 2020;1:1.</mixed-citation>
</ref></ref-list>"""


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


def read(folder: Path, tmp_path: Path, **kwargs):
    return run_reader(
        PMCJatsReader(path=str(folder), source="pmc", quarantine_dir=tmp_path / "q", **kwargs), tmp_path / "q"
    )


def test_article_text_sections_in_order_and_non_text_dropped(tmp_path):
    ids = '<article-id pub-id-type="pmid">39050143</article-id><article-id pub-id-type="pmc">PMC11266431</article-id>'
    write(tmp_path / "in", "a.xml", DOCTYPE + article(ids, BODY, BACK))
    (doc,), stats, quarantine = read(tmp_path / "in", tmp_path)
    assert not quarantine and doc.id == "pmc:39050143"
    assert doc.text.split("\n\n") == [
        "Remimazolam versus midazolam",
        "An abstract.",
        "INTRODUCTION",
        "Colonoscopy is recommended for early detection. Sedation improves tolerability. Features F1 were used "
        "(Figure 1).",
        "Aim",
        "To compare two sedatives.",
        "- first point\n- second point",
    ]
    assert doc.metadata["pmcid"] == "PMC11266431" and doc.metadata["journal"] == "DEN Open"
    assert doc.metadata["year"] == "2024" and doc.metadata["sections"] == ["INTRODUCTION"]
    assert stats["removed_citations"] == 4 and stats["removed_tables"] == 1 and stats["removed_figures"] == 1
    assert stats["removed_formulas"] == 1 and stats["removed_supplementary"] == 1
    assert stats["removed_acknowledgements"] == 1 and stats["removed_references"] == 1


def test_keep_brings_back_what_the_recipe_names(tmp_path):
    ids = '<article-id pub-id-type="pmc">11266431</article-id>'
    write(tmp_path / "in", "a.xml", article(ids, BODY, BACK))
    (doc,), _, _ = read(tmp_path / "in", tmp_path, keep=["tables", "formulas", "acknowledgements", "references"])
    assert doc.id == "pmc:PMC11266431"  # no PMID: the PMCID, normalised
    for kept in ("Baseline characteristics.", "Age | Sex", "66 | M", "E = mc^2", "We thank the nurses.", "Smith J."):
        assert kept in doc.text, kept
    assert "Study flow." not in doc.text and "Table S1." not in doc.text


def test_files_that_are_not_jats_articles_are_quarantined_not_silently_empty(tmp_path):
    folder = tmp_path / "in"
    write(
        folder, "pubmed.xml", "<PubmedArticleSet><PubmedArticle><MedlineCitation/></PubmedArticle></PubmedArticleSet>"
    )
    write(folder, "broken.xml", "<article><front>")
    bomb = '<!DOCTYPE article [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><article>&b;</article>'
    write(folder, "bomb.xml", bomb)
    external = '<!DOCTYPE article [<!ENTITY x SYSTEM "file:///etc/passwd">]><article>&x;</article>'
    write(folder, "external.xml", external)
    write(folder, "nometa.xml", "<article><body><p>text</p></body></article>")
    set_ids = [f'<article-id pub-id-type="pmid">{n}</article-id>' for n in (1, 2)]
    write(folder, "set.xml", "<pmc-articleset>" + "".join(article(i, BODY) for i in set_ids) + "</pmc-articleset>")
    docs, stats, quarantine = read(folder, tmp_path)
    assert sorted(d.id for d in docs) == ["pmc:1", "pmc:2"]
    by_file = {Path(q["location"]["file"]).name: q for q in quarantine}
    assert by_file["pubmed.xml"]["reason"] == "no_article" and "<PubmedArticleSet>" in by_file["pubmed.xml"]["error"]
    assert by_file["broken.xml"]["reason"] == "bad_xml" and "line 1" in by_file["broken.xml"]["error"]
    assert by_file["bomb.xml"]["reason"] == "unsafe_xml" and by_file["external.xml"]["reason"] == "unsafe_xml"
    assert by_file["nometa.xml"]["reason"] == "missing_field"
    assert stats["records"] == 7 == len(docs) + stats["quarantined"]


def test_real_pmc_articles(tmp_path):
    if not REAL.is_dir():
        pytest.skip(f"real PMC JATS files not found at {REAL}")
    docs, stats, quarantine = read(REAL, tmp_path)
    assert len(docs) == stats["records"] == len(list(REAL.glob("*.xml"))) and not quarantine
    for doc in docs:
        assert doc.id.startswith("pmc:") and doc.metadata["pmcid"].startswith("PMC")
        assert (
            (doc.id == f"pmc:{doc.metadata['pmid']}")
            if doc.metadata["pmid"]
            else doc.id.endswith(doc.metadata["pmcid"])
        )
        assert len(doc.text) > 5000 and "\x01" not in doc.text and ",," not in doc.text and "[]" not in doc.text
        assert doc.metadata["sections"], doc.id


def tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    """A package as PMC publishes them: a gzipped tar with a folder entry and its members."""
    import io
    import tarfile

    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        folders = {name.split("/")[0] for name in members if "/" in name}
        for folder in sorted(folders):
            entry = tarfile.TarInfo(folder)
            entry.type = tarfile.DIRTYPE
            tar.addfile(entry)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_pmc_packages_are_read_member_by_member(tmp_path):
    ids = [f'<article-id pub-id-type="pmc">PMC500000{n}</article-id>' for n in (1, 3)]
    bulk = tar_gz(
        tmp_path / "in" / "oa_comm_xml.PMC005xxxxxx.baseline.2024-12-18.tar.gz",
        {
            "PMC005xxxxxx/PMC5000001.xml": (DOCTYPE + article(ids[0], BODY, BACK)).encode(),
            "PMC005xxxxxx/PMC5000002.xml": b"<article><front>",
            "PMC005xxxxxx/PMC5000003.xml": article(ids[1], BODY).encode(),
        },
    )
    # a per-article package: the .nxml with its figure and PDF
    tar_gz(
        tmp_path / "in" / "PMC13900.tar.gz",
        {
            "PMC13900/ar-5-2-r01.nxml": article(
                '<article-id pub-id-type="pmid">11250746</article-id>', BODY
            ).encode(),
            "PMC13900/ar-5-2-r01-1.jpg": b"\xff\xd8\xff\xe0 not text",
            "PMC13900/ar-5-2-r01.pdf": b"%PDF-1.4",
        },
    )
    docs, stats, quarantine = read(tmp_path / "in", tmp_path, glob="**/*.tar.gz")
    assert sorted(d.id for d in docs) == ["pmc:11250746", "pmc:PMC5000001", "pmc:PMC5000003"]
    assert stats["records"] == 4 == len(docs) + stats["quarantined"] and stats["tar_members_not_xml"] == 2
    first = next(d for d in docs if d.id == "pmc:PMC5000001")
    assert first.metadata["provenance"]["file"] == f"{bulk}::PMC005xxxxxx/PMC5000001.xml"
    assert first.text.startswith("Remimazolam versus midazolam\n\nAn abstract.\n\nINTRODUCTION")
    (bad,) = quarantine
    assert bad["reason"] == "bad_xml" and bad["location"]["file"].endswith("::PMC005xxxxxx/PMC5000002.xml")


def test_a_truncated_package_keeps_the_articles_before_the_cut(tmp_path):
    ids = [f'<article-id pub-id-type="pmid">{n + 1}</article-id>' for n in range(40)]
    members = {f"PMC005xxxxxx/PMC50000{n:02d}.xml": article(i, BODY * 20).encode() for n, i in enumerate(ids)}
    whole = tar_gz(tmp_path / "whole" / "bulk.tar.gz", members)
    cut = tmp_path / "in" / "bulk.tar.gz"
    cut.parent.mkdir()
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    docs, stats, quarantine = read(cut, tmp_path)
    assert 0 < len(docs) < 40 and stats["files_quarantined_unreadable_file"] == 1
    assert stats["records"] == len(docs) + stats.get("quarantined", 0)
    assert quarantine[-1]["scope"] == "file" and "the rest of the file is skipped" in quarantine[-1]["error"]


def test_real_pmc_articles_read_the_same_from_a_bulk_package(tmp_path):
    if not REAL.is_dir():
        pytest.skip(f"real PMC JATS files not found at {REAL}")
    files = sorted(REAL.glob("*.xml"))
    package = tar_gz(tmp_path / "oa_comm_xml.PMC011xxxxxx.baseline.tar.gz",
                     {f"PMC011xxxxxx/{f.name}": f.read_bytes() for f in files})  # fmt: skip
    from_files, _, _ = read(REAL, tmp_path / "a")
    from_package, stats, quarantine = read(package, tmp_path / "b")
    assert not quarantine and stats["records"] == len(files)
    assert sorted((d.id, d.text) for d in from_package) == sorted((d.id, d.text) for d in from_files)


AUTHOR_YEAR = """<sec><title>Background</title><p>Hyperammonaemia is caused by liver failure (Sakusic et al.
<xref ref-type="bibr" rid="CR22">2018</xref>; Walker <xref ref-type="bibr" rid="CR31">2012</xref>; Vilstrup
<xref ref-type="bibr" rid="CR27">1980</xref>, <xref ref-type="bibr" rid="CR28">1989</xref>), as reviewed
(e.g., <xref ref-type="bibr" rid="CR2">Botella et al., 2019</xref>; Zivony &amp; Eimer,
<xref ref-type="bibr" rid="CR9">2021a</xref>). Numbered ones go [<xref ref-type="bibr" rid="b3">3</xref>,
<xref ref-type="bibr" rid="b4">4</xref>].</p></sec>"""
PERMISSIONS = (
    "<permissions><copyright-statement>© 2024 The Authors.</copyright-statement><license>"
    '<ali:license_ref xmlns:ali="http://www.niso.org/schemas/ali/1.0/" specific-use="textmining">'
    "https://creativecommons.org/licenses/by-nc/4.0/</ali:license_ref><license-p>This is an open access article "
    "under the terms of the Creative Commons Attribution-NonCommercial License.</license-p></license></permissions>"
)


def test_author_year_citations_keep_their_years_and_licence_is_read(tmp_path):
    ids = '<article-id pub-id-type="pmc">PMC1</article-id>'
    write(tmp_path / "in", "a.xml", article(ids + PERMISSIONS, body=AUTHOR_YEAR))
    write(tmp_path / "in", "b.xml", article('<article-id pub-id-type="pmc">PMC2</article-id>', body=AUTHOR_YEAR))
    write(
        tmp_path / "in",
        "c.xml",
        article(
            '<article-id pub-id-type="pmc">PMC3</article-id><permissions><license license-type="open-access" '
            'xlink:href="http://creativecommons.org/licenses/by/4.0/"><license-p>CC BY</license-p></license>'
            "</permissions>"
        ),
    )
    docs, stats, _ = read(tmp_path / "in", tmp_path)
    by_id = {d.id: d for d in docs}
    text = by_id["pmc:PMC1"].text
    assert "(Sakusic et al. 2018; Walker 2012; Vilstrup 1980, 1989)" in text
    assert "(e.g., Botella et al., 2019; Zivony & Eimer, 2021a)" in text
    assert "Numbered ones go." in text and "[3" not in text
    assert stats["citations_author_year_kept"] == 2 * 6 and stats["removed_citations"] == 2 * 2
    assert by_id["pmc:PMC1"].metadata["license"] == "cc-by-nc-4.0"
    assert by_id["pmc:PMC2"].metadata["license"] == "unknown"
    assert by_id["pmc:PMC3"].metadata["license"] == "cc-by-4.0"


def test_real_pmc_licences_and_no_author_year_citation_loses_its_year(tmp_path):
    if not REAL.is_dir():
        pytest.skip(f"real PMC JATS files not found at {REAL}")
    import re

    docs, _, _ = read(REAL, tmp_path)
    assert all(d.metadata["license"].startswith("cc") for d in docs), [d.metadata["license"] for d in docs]
    lost = re.compile(r"[A-Z][a-z\u00e0-\u00ff]+ (?:et al\.?|and [A-Z][a-z]+|& [A-Z][a-z]+),?\s*[;)]")
    assert not [m for d in docs for m in lost.findall(d.text)]
