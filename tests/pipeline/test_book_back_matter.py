"""Front and back matter of a 1910 Project Gutenberg home-medicine book: the transcriber's block, the title page,
the list of illustrations, the contents, the back-of-book index with page numbers; and the chunks cut after them
(never after an opening bracket, never between a heading and its text, labels ending where a removed part was)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corpusforge.pipeline.registry import BuildContext
from corpusforge.pipeline.steps.books.chunk import BookChunker
from corpusforge.pipeline.steps.books.strip import strip_nontext
from corpusforge.pipeline.steps.books.text import normalize_newlines
from tests.pipeline.test_book_sources import wrap

PROSE = (
    "Give the patient a light diet of milk and toast for several days, keep the bowels open with a mild laxative, "
    "and let him rest in a quiet room until the pain and the soreness of the stomach have passed away."
)
DICTIONARY = [  # the transcriber's added dictionary of old terms, one entry per paragraph, as in the real block
    f"{word}: {meaning}, as the word was used in the household medicine of the time; compare the modern term."
    for word, meaning in [("Ague", "a fever with chills"), ("Catarrh", "an inflammation of a mucous membrane"),
                          ("Dropsy", "a swelling from water in the tissues"), ("Quinsy", "an abscess of the tonsil"),
                          ("Phthisis", "consumption of the lungs"), ("Scrofula", "tuberculosis of the glands")] * 8
]  # fmt: skip
INDEX = [  # the back index, letter groups between blank lines, entries and sub-entries ending in page numbers
    ["Abdomen, Pain in                        42", "Abortion                               345",
     "  Threatened                           346", "Ague                                    97",
     "Anemia (see Blood)", "Apoplexy                               201", "Asthma                                 150"],
    ["B", "", "Bed-sores                               61", "Bilious Colic                           88",
     "Bleeding from the Nose                 130", "Blood, Poverty of                       77",
     "Boils                                  402", "Bronchitis, Acute                      147"],
    ["Dyspepsia, Acute                        20", "  Chronic                               23",
     "Dysentery                               91"],
    ["Waffles                                 772", "Wheat Bread                             701",
     "Yeast, Potato                           703", "Zweiback Noodles 808"],
]  # fmt: skip


def home_medicine_book() -> str:
    """The layout of a 1910 Project Gutenberg home-medicine book, in the order it ships its parts."""
    index = []
    for group in INDEX:
        index += group + ["", ""]
    return "\n".join(
        ["The Project Gutenberg EBook of The People's Home Medical Book, by T. J. Ritter", "",
         "This eBook is for the use of anyone anywhere at no cost and with", "almost no restrictions whatsoever.", "",
         "Release Date: May 1, 2007 [EBook #99998]", "",
         "*** START OF THIS PROJECT GUTENBERG EBOOK THE PEOPLE'S HOME MEDICAL BOOK ***", "", "",
         "Produced by Jane Doe and the Online Distributed", "Proofreading Team at http://www.pgdp.net", "", "", "",
         "[Transcriber's Notes]", "",
         wrap("The following dictionary of old medical terms was added by the transcriber to help the modern "
              "reader; it is not part of the original book."), ""]
        + [line for entry in DICTIONARY for line in (wrap(entry), "")]
        + ["                                        -- The Transcriber", "", "[End Transcriber's Notes]", "", "", "",
           "                       THE PEOPLE'S HOME LIBRARY", "",
           "                  A LIBRARY OF THREE PRACTICAL BOOKS", "", "",
           "                    THE PEOPLE'S HOME MEDICAL BOOK", "", "                        By T. J. RITTER, M. D.",
           "", "                             ILLUSTRATED", "", "",
           "                  COPYRIGHT, 1910, BY R. C. BARNUM", "                          CLEVELAND, OHIO", "", "", "",
           "LIST OF ILLUSTRATIONS", "",
           "    The Skeleton                                       12",
           "    The Heart and Blood-vessels                        48",
           "    Position for Artificial Respiration               96", "", "", "",
           "CONTENTS", "", "    Part I. Diseases of the Stomach", "    Part II. The Recipe Book", "", "", "",
           "PART I. DISEASES OF THE STOMACH", "", "",
           wrap("DYSPEPSIA, ACUTE. (Indigestion.) Causes.--Eating too much, or too fast. " + PROSE), ""]
        + [wrap(PROSE), ""] * 6
        + [wrap("DYSPEPSIA, CHRONIC. (" + PROSE + ")"), ""] + [wrap(PROSE), ""] * 4
        + ["", "", "PART II. THE RECIPE BOOK", "", "", "CANDY MAKING", "",
           wrap("Fudge. Boil two cups of sugar with a cup of milk until a drop hardens in cold water; beat it "
                "until creamy and pour it into a buttered pan."), "", "", "",
           "MEDICAL INDEX INCLUDING PAGES 1 TO 682", "", ""]
        + index
        + ["", "", "End of the Project Gutenberg EBook of The People's Home Medical Book, by T. J. Ritter", "",
           "*** END OF THIS PROJECT GUTENBERG EBOOK THE PEOPLE'S HOME MEDICAL BOOK ***", "",
           "THE FULL PROJECT GUTENBERG LICENSE"]
        + [wrap("Section 1. General Terms of Use and Redistributing Project Gutenberg-tm electronic works.")] * 20
    )  # fmt: skip


RESIDUE = (
    "Transcriber", "dictionary of old medical terms", "Catarrh", "HOME LIBRARY", "RITTER", "COPYRIGHT", "CLEVELAND",
    "ILLUSTRATIONS", "The Skeleton", "Artificial Respiration", "CONTENTS", "MEDICAL INDEX", "Abdomen, Pain in",
    "Zweiback", "Bed-sores", "Threatened", "Gutenberg",
)  # fmt: skip


@pytest.mark.parametrize("ending", ["\n", "\r\r\n"], ids=["LF", "CRCRLF"])
def test_home_medicine_book_front_and_back_matter_go_each_as_its_own_kind(ending):
    text = normalize_newlines(home_medicine_book().replace("\n", ending))
    out, stats = strip_nontext(text)
    for residue in RESIDUE:
        assert residue not in out, residue
    assert out.count(PROSE) == 12 and "PART I. DISEASES OF THE STOMACH" in out and "## CANDY MAKING" in out
    assert "DYSPEPSIA, ACUTE. (Indigestion.) Causes.--Eating too much" in out
    chars = {k.removeprefix("chars_stripped_"): v for k, v in stats.items() if k.startswith("chars_stripped_")}
    # the whole transcriber's block (its dictionary too) is counted as transcriber notes, the index as an index:
    # the contents list is only the contents list
    assert chars["transcriber_notes"] > sum(len(entry) for entry in DICTIONARY)
    assert stats["stripped_title_page"] == 1 and stats["stripped_illustrations_list"] == 1
    assert stats["stripped_toc"] == 1 and chars["toc"] < 100
    assert stats["stripped_indexes"] == 1 and chars["indexes"] > sum(len(line) for group in INDEX for line in group)
    assert sum(chars.values()) == stats["chars_in"] - stats["chars_out"] + stats["chars_added_heading_marks"]


@pytest.mark.parametrize(
    ("opening", "closing"),
    [("[Transcriber's Notes]", "[End Transcriber's Notes]"), ("TRANSCRIBER'S NOTE", "END OF TRANSCRIBER'S NOTE"),
     ("[Transcriber’s Note]", "[End of Transcriber’s Note]"), ("Transcriber's Notes:", "End of Transcriber's Notes.")],
)  # fmt: skip
def test_transcriber_blocks_in_their_common_shapes_go_whole(opening, closing):
    # blank-line gaps inside the block: only the closing line ends it
    block = [opening, ""] + [line for entry in DICTIONARY[:10] for line in (wrap(entry), "", "", "")] + [closing]
    out, stats = strip_nontext("\n".join(block + ["", wrap(PROSE), "", wrap(PROSE)]))
    assert out == f"{PROSE}\n\n{PROSE}" and stats["stripped_transcriber_notes"] == 1


def test_a_transcriber_note_drawn_in_a_box_goes_whole():
    box = [
        "+-----------------------------------------------------------+",
        "| Transcriber's Note:                                       |",
        "|                                                           |",
        "| Inconsistent spelling and hyphenation in the original     |",
        "| document have been preserved.                             |",
        "+-----------------------------------------------------------+",
    ]
    out, stats = strip_nontext("\n".join([*box, "", wrap(PROSE), "", "-" * 30, "", wrap(PROSE)]))
    assert out.startswith(PROSE) and "spelling" not in out and stats["stripped_transcriber_notes"] == 1


def test_an_unclosed_transcriber_block_is_counted_and_its_text_left_to_the_other_rules():
    out, stats = strip_nontext("\n".join(["[Transcriber's Notes]", "", "", "", wrap(PROSE), "", wrap(PROSE)]))
    assert out.count(PROSE) == 2 and stats["unclosed_transcriber_block"] == 1


def test_an_unheaded_alphabetic_index_is_an_index_not_a_contents_list():
    index = [line for group in INDEX for line in group + [""]]
    out, stats = strip_nontext("\n".join([wrap(PROSE), ""] + index + ["", wrap(PROSE)]))
    assert out.count(PROSE) == 2 and "Zweiback" not in out and "Bed-sores" not in out
    assert stats["stripped_indexes"] >= 1 and "stripped_toc" not in stats


def test_an_index_with_dashed_sub_entries_is_still_alphabetic():
    index = ["Heart, diseases of, 101", "-- dilatation of, 104", "-- valves of, 110", "Hiccough, 62",
             "Hives, 301", "-- in children, 305", "Hoarseness, 140", "Hydrophobia, 77", "Hysteria, 212"]  # fmt: skip
    out, stats = strip_nontext("\n".join([wrap(PROSE), ""] + index + ["", wrap(PROSE)]))
    assert out == f"{PROSE}\n\n\n{PROSE}" and stats["stripped_indexes"] == 1


def test_a_short_alphabetic_list_of_doses_in_the_text_is_not_an_index():
    doses = ["Aspirin 300", "Codeine 30", "Ibuprofen 400", "Morphine 10", "Paracetamol 500"]
    out, stats = strip_nontext("\n".join([wrap(PROSE), ""] + doses + ["", wrap(PROSE)]))
    assert "Codeine 30" in out and "stripped_indexes" not in stats and "stripped_toc" not in stats


def test_a_copyright_mention_in_the_text_is_not_a_title_page():
    text = "\n".join([wrap(PROSE), "", "", "COPYRIGHT AND THE PHYSICIAN", "", wrap(PROSE)])
    out, stats = strip_nontext(text)
    assert "COPYRIGHT AND THE PHYSICIAN" in out and "stripped_title_page" not in stats


def test_index_headings_of_any_wording_but_not_an_article_on_the_index_finger():
    entries = "\n".join(line for line in INDEX[1] if line.strip() and line != "B")
    for heading in ("INDEX", "GENERAL INDEX", "Index to Recipes", "MEDICAL INDEX INCLUDING PAGES 1 TO 682"):
        out, stats = strip_nontext("\n\n".join([wrap(PROSE)] * 4) + f"\n\n\n{heading}\n\n{entries}\n")
        assert out == "\n\n".join([PROSE] * 4) and stats["stripped_indexes"] == 1, heading
    out, stats = strip_nontext(f"{wrap(PROSE)}\n\n\nINDEX FINGER, INJURIES OF\n\n{wrap(PROSE)}\n")
    assert out.count(PROSE) == 2 and "INDEX FINGER" in out and "stripped_indexes" not in stats


def test_a_title_page_needs_a_cue_and_keeps_the_heading_of_the_prose_after_it():
    title = ["THE EVOLUTION OF MODERN MEDICINE", "", "", "A SERIES OF LECTURES", "", "by William Osler", "", ""]
    out, stats = strip_nontext("\n".join(title + ["THE SILLIMAN FOUNDATION", "", wrap(PROSE)]))
    assert out == f"THE SILLIMAN FOUNDATION\n\n{PROSE}" and stats["stripped_title_page"] == 1
    no_cue = ["THE STOMACH", "", "ITS DISEASES", "", "", wrap(PROSE)]
    out, stats = strip_nontext("\n".join(no_cue))
    assert out.startswith("THE STOMACH") and "stripped_title_page" not in stats


def chunks_of(text: str, **params) -> list:
    params = BookChunker.Params(**{"target_chars": 400, "max_chars": 800, "min_chars": 100, **params})
    step = BookChunker.from_params(params, BuildContext(source="books", output_dir=Path("."), work_dir=Path(".")))
    return list(step.chunks(text))


def test_chunks_never_end_on_an_opening_bracket_or_a_run_in_heading():
    out, _ = strip_nontext(home_medicine_book())
    chunks = chunks_of(out)
    texts = [out[c.start : c.end] for c in chunks]
    for text in texts:
        assert text.rstrip()[-1:] not in "([{", text[-40:]
        assert not text.rstrip().endswith(("DYSPEPSIA, ACUTE.", "DYSPEPSIA, CHRONIC.")), text[-40:]
    # a run-in heading labels the text under it, below the part's heading; the recipe label stays with the recipes
    opening = next(c for c, t in zip(chunks, texts) if "DYSPEPSIA, ACUTE." in t)
    assert opening.section == "PART I. DISEASES OF THE STOMACH > DYSPEPSIA, ACUTE"
    assert [c.section for c in chunks].count("PART II. THE RECIPE BOOK > CANDY MAKING") == 1


def test_a_heading_is_never_cut_from_its_first_paragraph():
    text = "\n\n".join(["## Fevers", PROSE, PROSE, "## Treatment", PROSE, PROSE, PROSE])
    chunks = chunks_of(text, target_chars=500, min_chars=100)
    texts = [text[c.start : c.end] for c in chunks]
    assert all(not t.rstrip().endswith("## Treatment") for t in texts)
    assert any(t.startswith("## Treatment\n\n" + PROSE) for t in texts)


def test_section_labels_end_where_removed_back_matter_was():
    index = [line for group in INDEX for line in group + [""]]
    book = "\n".join(["## CANDY MAKING", "", wrap(PROSE), ""] + index + ["", "", wrap(PROSE), "", wrap(PROSE)])
    out, _ = strip_nontext(book)
    chunks = chunks_of(out, min_chars=50, target_chars=300)
    assert chunks[0].section == "CANDY MAKING"
    assert [c.section for c in chunks[1:]] == [""] * (len(chunks) - 1) and len(chunks) >= 2
    # and a line of capitals starting a part is a label of its own
    text = "\n\n".join(["## CANDY MAKING", PROSE, "MEDICAL DICTIONARY", PROSE])
    assert [c.section for c in chunks_of(text, min_chars=50, target_chars=300)] == [
        "CANDY MAKING",
        "MEDICAL DICTIONARY",
    ]
