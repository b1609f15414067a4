"""The build report: written by `corpusforge build`, one offline file, bounded in size, and usable in a browser."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.report.helpers import assert_self_contained, rendered_charts, visible_records

SIZE_BOUND = 3 * 2**20  # "a few MB at most" for any size of build


def test_big_build_report_stays_small_and_bounded(big_build, tmp_path):
    from corpusforge.report import write_report

    html = write_report(big_build, tmp_path / "big.html")
    text = assert_self_contained(html)
    assert html.stat().st_size < SIZE_BOUND, f"{html.stat().st_size:,} bytes for a 200k-record build"
    records = text.count('<article class="record"')
    assert 100 < records < 1000  # a sample of each kind, not the build
    assert "200,000 documents kept" in text
    for reason in ("too_short", "pqal_ngram", "bad_json", "bad_encoding"):
        assert f'data-reason="dropped:{reason}"' in text or f'data-reason="quarantined:{reason}"' in text
    assert "more characters]" in text  # long documents and raw inputs are cut


@pytest.mark.slow
def test_build_writes_its_report_and_the_card_shows_the_plots(stage1_output):
    out, stdout = stage1_output
    assert f"report: {out / 'report.html'}" in stdout.replace("\n", "")
    text = assert_self_contained(out / "report.html")
    card = (out / "README.md").read_text(encoding="utf-8")
    plots = card[card.index("## Plots") : card.index("## Sources")]  # right after the summary
    for image in ("images/funnel.png", "images/drop_reasons.png", "images/lengths.png"):
        assert f"]({image})" in plots and (out / image).stat().st_size > 5000
    # what the build recorded shows up: books stripping, KG coverage, a kept sample, a dropped PubMed abstract
    manifest = json.loads((out / "manifest.json").read_text())
    kg = manifest["sources"]["kg"]["details"]["kg.subgraphs"]
    assert f"{kg['triples_covered']:,} of {kg['triples_in']:,} triples covered" in text
    assert "stripped_tables" in text
    assert 'data-reason="dropped:pqal_pmid"' in text and 'data-reason="dropped:no_abstract"' in text
    assert re.search(r"matched: .{0,40}\d+:(context|long_answer)", text)  # the PQA-L item an abstract contained
    licences = manifest["licenses"]["by_license"]  # every written document under its licence, in page and card
    assert sum(r["records"] for r in licences.values()) == manifest["rows_written"]
    assert 'id="licences"' in text and "## Licences" in card


@pytest.mark.slow
def test_the_build_report_in_chromium(stage1_output, instruct_outputs, report_browser, tmp_path):
    out, _ = stage1_output
    page, errors = report_browser.open(out / "report.html")
    charts = rendered_charts(page)
    assert {"funnel", "drop-reasons", "length-chars", "length-words", "languages"} <= charts, charts
    assert any(c.startswith("books-") for c in charts) and any(c.startswith("kg-") for c in charts), charts
    page.screenshot(path=str(tmp_path / "stage1-first-screen.png"))

    # the bad-case browser: one drop reason shows only that reason's records, with where they came from
    page.select_option("#f-reason", "dropped:no_abstract")
    shown = visible_records(page)
    assert shown and all(r["reason"] == "dropped:no_abstract" for r in shown)
    assert all("pubmed" in r["source"] and "pubmed_sample" in r["text"] for r in shown), shown
    page.select_option("#f-reason", "")
    page.select_option("#f-kind", "kept")
    page.select_option("#f-source", "kg")
    shown = visible_records(page)
    assert shown and all(r["kind"] == "kept" and r["source"] == "kg" for r in shown)
    page.fill("#f-text", "zzz-no-such-text")
    assert visible_records(page) == []
    assert "showing 0 of" in page.inner_text("#f-count")
    assert errors == []

    # stage 2: quarantined raw input with its file and line, filtered by its reason
    page, errors = report_browser.open(instruct_outputs["stage2"] / "report.html")
    assert {"funnel", "drop-reasons", "length-splits"} <= rendered_charts(page)
    reason = page.eval_on_selector("#f-reason optgroup[label=quarantined] option", "o => o.value")
    page.select_option("#f-reason", reason)
    shown = visible_records(page)
    assert shown and all(r["reason"] == reason and r["kind"] == "quarantined" for r in shown)
    assert all(".jsonl" in r["text"] or ".json" in r["text"] or ".csv" in r["text"] for r in shown), shown
    page.screenshot(path=str(tmp_path / "stage2-quarantined.png"), full_page=True)
    assert errors == []


def test_report_command_on_a_folder_it_does_not_know_says_so(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "from corpusforge.cli import main; main()", "report", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 3
    message = " ".join(result.stderr.split())
    assert "not something corpusforge wrote" in message and "Traceback" not in message


def test_words_and_han_characters_are_counted_on_utf8_bytes():
    import pyarrow as pa

    from corpusforge.report.build import han_and_words

    texts = pa.array(["hello  world", "", "糖尿病 is bad", "中文,abc 中", None, "é à ü"]).slice(1)
    han, words = han_and_words(texts)
    assert han.tolist() == [0, 3, 3, 0, 0] and words.tolist() == [0, 5, 4, 0, 3]


def test_card_plots_section_is_replaced_not_repeated_and_follows_the_config_prefix(tmp_path):
    from corpusforge.hub.card import merge_card
    from corpusforge.report.card_parts import set_card_section

    card = tmp_path / "README.md"
    configs = "configs:\n- config_name: default\n  data_files:\n  - split: train\n    path: data/train/*.parquet\n"
    card.write_text(f"---\n{configs}---\n\n# T\n\n## Summary\n\ntext\n\n## Sources\n\nrows\n")
    set_card_section(card, "Plots", "![a](images/a.png)")
    set_card_section(card, "Plots", "![b](images/b.png)")
    text = card.read_text()
    assert text.count("## Plots") == 1 and "images/a.png" not in text
    assert text.index("## Summary") < text.index("## Plots") < text.index("## Sources")
    merged = merge_card(None, text, "stage1", "stage1/")
    assert "](stage1/images/b.png)" in merged


@pytest.mark.slow
def test_every_drop_and_quarantine_reason_has_examples_and_tokens_are_shown(tmp_path, tiny_tokenizer_file, repo_root):
    """The build tests' messy source (bad JSON, GBK bytes, duplicates, near-duplicates, empty and short texts),
    tokenized: the browser has an example of every reason the manifest counts, with its location."""
    import yaml

    from corpusforge.report.build import token_lengths
    from tests.builder.conftest import messy_recipe, write_messy_source

    expected = write_messy_source(tmp_path / "src")
    recipe = messy_recipe(tmp_path / "src", tmp_path / "out")
    recipe["output"]["tokenize"] = {"tokenizer_file": str(tiny_tokenizer_file)}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(recipe))
    cmd = [sys.executable, "-c", "from corpusforge.cli import main; main()", "build", str(tmp_path / "r.yaml")]
    result = subprocess.run(cmd, cwd=repo_root, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = tmp_path / "out"
    text = (out / "report.html").read_text()
    for reason in expected["dropped"]:
        assert f'data-reason="dropped:{reason}"' in text, reason
    for reason in expected["quarantined_by_reason"]:
        assert f'data-reason="quarantined:{reason}"' in text, reason
    assert "part-b.jsonl, line" in text  # where the GBK line and the others came from

    manifest = json.loads((out / "manifest.json").read_text())
    lengths = token_lengths(out)
    assert len(lengths) == expected["kept"] and lengths.sum() == manifest["tokenized"]["tokens"] > 0
    assert 'data-chart="length-tokens"' in text and f"{manifest['tokenized']['tokens']:,}" in text


def test_shards_scanned_in_parallel_give_the_same_report_data(big_build):
    """A build's shards are scanned by several threads; the lengths, languages and sampled records do not depend on
    how many."""
    import numpy as np

    from corpusforge.report.build import scan_records

    one = scan_records(big_build, "pretrain", seed=3, workers=1)
    two = scan_records(big_build, "pretrain", seed=3, workers=2)
    lengths1, languages1, kept1, _ = one
    lengths2, languages2, kept2, _ = two
    assert lengths1.keys() == lengths2.keys() and len(lengths1) > 1
    for key in lengths1:
        for kind in ("chars", "words"):
            assert np.array_equal(lengths1[key].array(kind), lengths2[key].array(kind))
    assert languages1 == languages2
    assert [r["id"] for r in kept1] == [r["id"] for r in kept2] and kept1
    assert scan_records(big_build, "pretrain", seed=4, workers=1)[2] != kept1  # the seed picks the sample
