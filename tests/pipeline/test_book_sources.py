"""Books as they are published: Project Gutenberg plain text (licence, credits, contents, footnotes, illustrations,
running heads, transcriber's notes, CR CR LF), EPUB (built here, as zips of XHTML), and the per-book guard that
quarantines a book a stripping step would mostly remove."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from datatrove.data import Document

from corpusforge.pipeline.readers.books import BooksReader
from corpusforge.pipeline.readers.epub import epub_to_markdown
from corpusforge.pipeline.steps.books.strip import StripNonText, strip_nontext
from corpusforge.pipeline.steps.books.text import normalize_newlines

PROSE = (
    "The physician of the middle ages treated fevers with bleeding and purging, and the practice lasted long "
    "after the reasons for it were forgotten by those who carried it out in the towns and the villages."
)


def wrap(text: str, width: int = 70) -> str:
    """Hard-wrap like a Gutenberg text."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "\n".join(lines + [line])


def gutenberg_book() -> str:
    """A book in Project Gutenberg's plain-text layout, with each kind of non-text it ships."""
    chapter = "\n\n".join(wrap(PROSE) for _ in range(6))
    return "\n".join(
        [
            "The Project Gutenberg EBook of Old Physic, by A. Author",
            "",
            "This eBook is for the use of anyone anywhere at no cost and with",
            "almost no restrictions whatsoever.  You may copy it, give it away or",
            "re-use it under the terms of the Project Gutenberg License included",
            "",
            "Title: Old Physic",
            "",
            "*** START OF THIS PROJECT GUTENBERG EBOOK OLD PHYSIC ***",
            "",
            "Produced by Jane Doe and the Online Distributed",
            "Proofreading Team at http://www.pgdp.net",
            "",
            "",
            "OLD PHYSIC",
            "",
            "",
            "CONTENTS",
            "",
            "Chapter I.    Fevers",
            "Chapter II.   Respiratory Diseases",
            "INDEX",
            "",
            "",
            "",
            "",
            "[Transcriber's Note: Obvious printer's errors have been corrected.",
            "Hyphenation has been made consistent.]",
            "",
            "",
            "CHAPTER I -- FEVERS",
            "",
            wrap(PROSE),
            "",
            "[Illustration: FIG. 3.--An old fever hospital,",
            "from a woodcut of 1520.]",
            "",
            wrap("Fevers were thought to come from the _stars_.(1) " + PROSE),
            "",
            "     (1) Sudhoff:  Geschichte der Medizin, Jena, 1922,",
            "     p. 118.",
            "",
            chapter,
            "",
            "[RESPIRATORY DISEASES 7]",
            "",
            wrap("Consumption was the great killer of the young.[1] " + PROSE),
            "",
            "[Footnote 1: Laennec described it in 1819; see his treatise",
            "on mediate auscultation.]",
            "",
            "[Pg 12]",
            "",
            "CHAPTER II -- RESPIRATORY DISEASES",
            "",
            chapter,
            "",
            "",
            "End of the Project Gutenberg EBook of Old Physic, by A. Author",
            "",
            "*** END OF THIS PROJECT GUTENBERG EBOOK OLD PHYSIC ***",
            "",
            "***** This file should be named 99999.txt or 99999.zip *****",
            "Updated editions will replace the previous one--the old editions",
            "will be renamed.",
            "",
            "*** START: FULL LICENSE ***",
            "THE FULL PROJECT GUTENBERG LICENSE",
            "PLEASE READ THIS BEFORE YOU DISTRIBUTE OR USE THIS WORK",
        ]
        + [wrap("Section 1. General Terms of Use and Redistributing Project Gutenberg-tm electronic works.")] * 40
    )


RESIDUE = (
    "Project Gutenberg", "Produced by", "CONTENTS", "Chapter II.   Respiratory", "Illustration", "woodcut",
    "Sudhoff", "(1)", "[1]", "Footnote", "Laennec", "RESPIRATORY DISEASES 7", "[Pg", "Transcriber", "LICENSE",
)  # fmt: skip


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r\r\n", "\r"], ids=["LF", "CRLF", "CRCRLF", "CR"])
def test_gutenberg_book_keeps_its_prose_and_nothing_else_in_any_line_ending(ending):
    text = gutenberg_book().replace("\n", ending)
    out, stats = strip_nontext(normalize_newlines(text))
    for residue in RESIDUE:
        assert residue not in out, residue
    paragraphs = out.split("\n\n")
    assert "CHAPTER I -- FEVERS" in paragraphs and "CHAPTER II -- RESPIRATORY DISEASES" in paragraphs
    # wrapped lines are joined into whole paragraphs; the running head did not cut the paragraph it stood in
    assert paragraphs.count(PROSE) == 13
    assert "Fevers were thought to come from the stars. " + PROSE in paragraphs
    assert "Consumption was the great killer of the young. " + PROSE in paragraphs
    for kind in ("gutenberg_header", "gutenberg_footer", "credits", "toc", "illustrations", "footnotes",
                 "footnote_markers", "running_heads", "page_numbers", "transcriber_notes", "emphasis_marks"):  # fmt: skip
        assert stats[f"stripped_{kind}"] >= 1 and stats[f"chars_stripped_{kind}"] > 0, kind
    # a title in capitals between blank lines became a heading; the kinds add up to what was removed (the `## `
    # of the headings being the only characters added)
    assert paragraphs[0] == "## OLD PHYSIC" and stats["headings_marked"] == 2  # and CONTENTS, then removed
    kinds = sum(v for k, v in stats.items() if k.startswith("chars_stripped_"))
    assert kinds == stats["chars_in"] - stats["chars_out"] + stats["chars_added_heading_marks"] and stats[
        "chars_in"
    ] == len(normalize_newlines(text))


def test_a_contents_line_reading_index_does_not_remove_the_book():
    book = "\n".join(
        ["CONTENTS", "", "Preface", "Chapter 1 Fevers", "Index", "", "", "", "Chapter 1 Fevers", ""]
        + [wrap(PROSE)] * 20
    )
    out, stats = strip_nontext(book)
    assert out.count(PROSE) == 20 and "Preface" not in out
    assert stats["stripped_toc"] == 1 and "stripped_indexes" not in stats
    # an `Index` heading mid-book over prose is not an index either: kept, and counted
    out, stats = strip_nontext("\n\n".join([wrap(PROSE)] * 5 + ["INDEX"] + [wrap(PROSE)] * 5))
    assert out.count(PROSE) == 10 and stats["kept_unconfirmed_indexes"] == 1


def test_numbered_list_without_glued_markers_is_not_taken_for_footnotes():
    text = "Treatment has two parts.\n\n(1) Rest in bed for a week.\n\n(2) Fluids and a light diet.\n"
    out, stats = strip_nontext(text)
    assert "(1) Rest in bed" in out and "stripped_footnotes" not in stats


def book_doc(text: str, doc_id: str) -> Document:
    return Document(text=text, id=doc_id, metadata={"source": "books", "provenance": {"file": doc_id}})


def test_a_book_stripping_would_mostly_remove_is_quarantined_with_the_reason(tmp_path):
    table = "\n".join(f"| drug {i} | {i} mg | oral |" for i in range(200))
    docs = [book_doc(wrap(PROSE) + "\n\n" + table, "books:tables.txt"), book_doc(gutenberg_book(), "books:pg.txt")]
    step = StripNonText(quarantine_dir=tmp_path / "q")
    out = list(step.run(iter(docs)))
    stats = {k: v.total for k, v in step.stats.stats.items()}
    assert [d.id for d in out] == ["books:pg.txt"]
    assert stats["quarantined"] == 1 and stats["quarantined_stripped_most_of_book"] == 1 and "dropped" not in stats
    (record,) = [json.loads(line) for f in (tmp_path / "q").glob("*.jsonl") for line in f.open()]
    assert record["reason"] == "stripped_most_of_book" and record["location"]["file"] == "books:tables.txt"
    assert "tables 5,580" in record["error"] and record["raw"] == docs[0].text


# ---------------------------------------------------------------------------------------------------------------
# EPUB
# ---------------------------------------------------------------------------------------------------------------
CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
  <rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/></rootfiles>
</container>"""

OPF = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
  <metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:title>Old Physic</dc:title></metadata>
  <manifest>
    <item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
    <item id="c2" href="text/ch%202.xhtml" media-type="application/xhtml+xml"/>
    <item id="c1" href="text/ch1.xhtml" media-type="application/xhtml+xml"/>
    <item id="notes" href="text/notes.xhtml" media-type="application/xhtml+xml"/>
    <item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/>
  </manifest>
  <spine toc="ncx">
    <itemref idref="nav"/>
    <itemref idref="c1"/>
    <itemref idref="c2"/>
    <itemref idref="notes" linear="no"/>
  </spine>
</package>"""

XHTML = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops">
<head><title>{title}</title><style>p {{ margin: 0 }}</style></head>
<body>{body}</body></html>"""
PG_HEADER = '<section class="pg-boilerplate pgheader" id="pg-header"><p>The Project Gutenberg eBook of Old Physic</p></section>'


CH1 = """<section epub:type="chapter"><h1>Chapter 1 Fevers</h1>
<p>Fevers were thought to come from the stars.<a epub:type="noteref" href="notes.xhtml#n1">1</a> {prose}</p>
<figure><img src="../img/woodcut.png" alt="woodcut"/><figcaption>Figure 1. An old fever hospital.</figcaption></figure>
<table><caption>Table 1. Doses of bark</caption><tr><td>bark</td><td>2 drams</td></tr></table>
<p>Bleeding was the answer to every fever.<sup><a href="#fn2">2</a></sup> See <a href="ch%202.xhtml#c2">the next
chapter</a> for more.<span epub:type="pagebreak" id="p12" title="12">12</span></p>
<aside epub:type="footnote" id="fn2"><p>Galen, De methodo medendi.</p></aside>
<nav epub:type="landmarks"><ol><li><a href="#x">Start</a></li></ol></nav>
</section>"""

CH2 = """<h1>Chapter 2 Consumption</h1><p>{prose}</p><ul><li>rest</li><li>fresh air</li></ul>
<p>Consumption<br/>was common. <math><mi>x</mi></math></p>
<section epub:type="endnotes"><ol><li id="e1">An endnote.</li></ol></section>"""


def make_epub(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr("META-INF/container.xml", CONTAINER)
        z.writestr("OEBPS/content.opf", OPF)
        z.writestr(
            "OEBPS/nav.xhtml", XHTML.format(title="Contents", body='<nav epub:type="toc"><ol><li>1</li></ol></nav>')
        )
        z.writestr("OEBPS/text/ch1.xhtml", XHTML.format(title="1", body=PG_HEADER + CH1.format(prose=PROSE)))
        z.writestr("OEBPS/text/ch 2.xhtml", XHTML.format(title="2", body=CH2.format(prose=PROSE)))
        z.writestr("OEBPS/text/notes.xhtml", XHTML.format(title="n", body='<p id="n1">Sudhoff, 1922.</p>'))
        z.writestr("OEBPS/toc.ncx", "<ncx/>")
    return path


def test_epub_chapters_in_spine_order_with_non_text_removed_structurally(tmp_path):
    removed: Counter = Counter()
    text = epub_to_markdown(make_epub(tmp_path / "b.epub").read_bytes(), removed)
    assert text.split("\n\n") == [
        "# Chapter 1 Fevers",
        "Fevers were thought to come from the stars. " + PROSE,
        "Bleeding was the answer to every fever. See the next chapter for more.",
        "# Chapter 2 Consumption",
        PROSE,
        "rest",
        "fresh air",
        "Consumption was common.",
    ]
    assert removed == Counter(
        navigation=2, nonlinear_items=1, figures=1, tables=1, footnote_markers=2, page_numbers=1, footnotes=2,
        formulas=1, chapters=2, licence=1,
    )  # fmt: skip


def test_epub_through_the_reader_and_a_broken_one_quarantined(tmp_path):
    folder = tmp_path / "books"
    folder.mkdir()
    make_epub(folder / "old_physic.epub")
    (folder / "broken.epub").write_bytes(b"PK\x03\x04 not really a zip")
    with zipfile.ZipFile(folder / "scanned.epub", "w") as z:
        z.writestr("META-INF/container.xml", CONTAINER)
        z.writestr("OEBPS/content.opf", OPF)
        for name in ("text/ch1.xhtml", "text/ch 2.xhtml"):
            z.writestr(f"OEBPS/{name}", XHTML.format(title="p", body='<img src="page1.jpg"/>'))
    with zipfile.ZipFile(make_epub(folder / "drm.epub"), "a") as z:
        z.writestr(
            "META-INF/encryption.xml",
            '<encryption xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData><enc:CipherData>'
            '<enc:CipherReference URI="OEBPS/text/ch1.xhtml"/></enc:CipherData></enc:EncryptedData></encryption>',
        )
    reader = BooksReader(path=str(folder), source="books", quarantine_dir=tmp_path / "q")
    docs = list(reader.run())
    stats = {k: v.total for k, v in reader.stats.stats.items()}
    assert [d.id for d in docs] == ["books:old_physic.epub"]
    assert docs[0].metadata["format"] == "markdown" and docs[0].text.startswith("# Chapter 1 Fevers")
    assert stats["epub_removed_tables"] == 1 and stats["epub_chapters"] == 2
    records = [json.loads(line) for f in (tmp_path / "q").glob("*.jsonl") for line in f.open()]
    reasons = {Path(r["location"]["file"]).name: r["reason"] for r in records}
    assert reasons == {"broken.epub": "bad_epub", "drm.epub": "encrypted_epub", "scanned.epub": "no_text_in_epub"}
    out, _ = strip_nontext(docs[0].text)
    assert out.startswith("# Chapter 1 Fevers\n\nFevers were thought")


def test_newer_gutenberg_layout_contents_with_page_column_index_and_notes():
    """The 2023 layout: `Credits:` in the header, an opening transcriber's note paragraph, `=bold=` marks, a contents
    list of chapters with a PAGE column and two blank lines between chapters, `INDEX.` with `;`-ended entries."""
    contents = ["CONTENTS.", "", ""]
    for n, title in (("I", "FEUDALISM AND THE MONARCHY."), ("II", "FRANCE UNDER LOUIS XVI., 1774-1789.")):
        contents += [f"  CHAPTER {n}.", "", f"  {title}", "", f"{'PAGE':>74}"]
        contents += [
            f"  The Monarchy in France{' ' * 40}{n == 'I' and 1 or 18}",
            "  Feudal rights" + " " * 49 + "4",
            "",
            "",
        ]
    index = (
        ["INDEX.", "", ""]
        + [
            f"  {name}, {what}, {page};\n    {more}, {page + 3}\n"
            for name, what, more, page in [
                ("America", "assisted by France", "declaration of Independence by", 25),
                ("Army, the French", "mutinies in", "disorderly condition of", 73),
                ("Bastille", "the attack upon", "capture of", 45),
            ]
        ]
        + ["  Egalité, Philip. _See_ Orleans, Duke of"]
    )
    text = "\n".join(
        ["The Project Gutenberg eBook of The French Revolution 1789-1795", "",
         "Credits: The Online Distributed Proofreading Team at https://www.pgdp.net", "", "",
         "*** START OF THE PROJECT GUTENBERG EBOOK THE FRENCH REVOLUTION 1789-1795 ***", "", "", "", "",
         "Transcriber’s Notes: Italic text is enclosed in _underscores_;",
         "boldface text is enclosed in =equals signs=.", "",
         "Other notes will be found near the end of this ebook.", "", "", "", "",
         "  =THE GRACCHI, MARIUS, AND SULLA.= By A. H. BEESLY, M.A. With 2 Maps.", "", "", ""]
        + contents + ["", ""]
        + ["CHAPTER I.", "", "FEUDALISM AND THE MONARCHY.", "", wrap("The _ancien régime_ was " + PROSE)]
        + ["", wrap(PROSE)] * 12 + ["", "", "", ""] + index + ["", "", "", "Transcriber’s Notes", "", "",
           "Punctuation was made consistent.", "", "", "",
           "            *** END OF THE PROJECT GUTENBERG EBOOK THE FRENCH REVOLUTION 1789-1795 ***", "",
           "START: FULL LICENSE", "", "THE FULL PROJECT GUTENBERG LICENSE"]
    )  # fmt: skip
    out, stats = strip_nontext(text)
    for residue in ("Gutenberg", "Credits", "Transcriber", "underscores", "PAGE", "Feudal rights", "INDEX",
                    "America", "Orleans", "=", "_", "Punctuation was made"):  # fmt: skip
        assert residue not in out, residue
    # the series advertisement before the contents (`By A. H. BEESLY, M.A.`) is front matter: a title page
    assert "GRACCHI" not in out and stats["stripped_title_page"] == 1
    assert "CHAPTER I.\n\nFEUDALISM AND THE MONARCHY.\n\nThe ancien régime was " + PROSE in out
    assert out.count(PROSE) == 13 and stats["stripped_indexes"] == 1 and stats["stripped_toc"] == 1
    assert stats["stripped_transcriber_notes"] == 2  # the opening note and the closing one (before the END marker)
