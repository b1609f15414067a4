"""The report of a built dataset: funnel, reasons, lengths, languages, dedup and decontamination, books, knowledge
graph, QA statistics and the record browser; and the few plots the dataset card shows as images."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from markupsafe import Markup, escape

from corpusforge.output.dataset_dir import IMAGES_DIR
from corpusforge.report import charts
from corpusforge.report.build import BuildData
from corpusforge.report.page import Page, chart, collapsed, note, pre, row, table
from corpusforge.report.qa_stats import QAItem, make_tokenizer, qa_stats, table_rows

# manifest keys drawn by a section of their own; any other top-level key is shown under "More statistics"
KNOWN_KEYS = {
    "corpusforge_version",
    "recipe",
    "kind",
    "status",
    "built_at",
    "totals",
    "rows_written",
    "sources",
    "dropped_by_reason",
    "deduplication",
    "decontamination",
    "files",
    "quarantine_files",
    "tokenized",
    "mixture",
    "contamination",
    "totals_by_unit",
    "decontamination_checks",
    "warnings",
}


def build_page(data: BuildData) -> Page:
    m = data.manifest
    t = m["totals"]
    unit = "records" if data.kind == "instruct" else "documents"
    balanced = all(s.get("balanced", True) for s in m["sources"].values())
    page = Page(
        title=f"{m['recipe']}",
        kind=f"{'instruction' if data.kind == 'instruct' else 'pretraining'} dataset build",
        path=str(data.root),
        status=m.get("status", "ok"),
        summary=(
            f"{t['kept']:,} {unit} kept from {t['input']:,} input records of {len(m['sources'])} sources: "
            f"{t['dropped']:,} dropped with a counted reason, {t['quarantined']:,} quarantined as malformed. "
            + (
                "Every source balances (input = kept + dropped + quarantined, in each unit)."
                if balanced
                else "SOME SOURCES DO NOT BALANCE: see the funnel."
            )
        ),
    )
    page.warnings = list(m.get("warnings") or [])
    page.cards = [
        ("Input", f"{t['input']:,}", "records read"),
        ("Kept", f"{t['kept']:,}", unit),
        ("Dropped", f"{t['dropped']:,}", f"{len(m['dropped_by_reason'])} reasons"),
        ("Quarantined", f"{t['quarantined']:,}", "malformed input"),
        ("Rows", f"{m['rows_written']:,}", f"in {len(m['files'])} parquet files"),
        ("Sources", str(len(m["sources"])), "all balance" if balanced else "NOT BALANCED"),
    ]
    if m.get("tokenized"):
        page.cards.append(("Tokens", f"{m['tokenized']['tokens']:,}", f"{m['tokenized']['files']} .ds files"))
    funnel_section(page, data)
    reasons_section(page, data)
    lengths_section(page, data)
    languages_section(page, data)
    dedup_section(page, data)
    books_section(page, data)
    kg_section(page, data)
    if data.kind == "instruct":
        mixture_section(page, data)
        qa_section(page, data)
    extra_section(page, data)
    if data.recipe_yaml:
        page.section("recipe", "Recipe", "The resolved recipe this dataset was built from.").add(
            pre(data.recipe_yaml, "recipe")
        )
    page.records = browser_records(data)
    return page


def funnel_section(page: Page, data: BuildData) -> None:
    sources = data.manifest["sources"]
    s = page.section(
        "funnel",
        "Funnel",
        "Per source, where every input record went. A source whose records change unit (books into chunks, "
        "triples into subgraphs) has one bar per unit; each bar adds up in its own unit.",
    )
    funnel = chart("funnel", charts.svg(charts.funnel(sources)), "Shares of each source's input; counts on the bars.")
    reasons = data.manifest["dropped_by_reason"]
    if reasons:
        bars = charts.bars(reasons, "Dropped, by reason", "records", charts.DROPPED)
        s.add(row(funnel, chart("drop-reasons", charts.svg(bars), "Details and examples below.")))
    else:
        s.add(funnel)
    rows = []
    for name, src in sources.items():
        for i, seg in enumerate(src.get("segments") or []):
            rows.append(
                [
                    name if i == 0 else "",
                    seg["unit"],
                    seg["input"],
                    seg["output"],
                    sum(seg["dropped"].values()),
                    seg.get("quarantined", 0),
                    seg.get("balanced", True),
                ]
            )
    s.add(
        table(
            ["source", "unit", "input", "out (kept)", "dropped", "quarantined", "balanced"],
            rows,
            "funnel",
            numeric_from=2,
        )
    )
    s.add(note("; ".join(f"{n}: {src['balance']}" for n, src in sources.items() if src.get("balance"))))
    by_unit = data.manifest.get("totals_by_unit")
    if by_unit:
        columns = list(dict.fromkeys(k for v in by_unit.values() for k in v))
        s.add(Markup("<h3>Totals by unit</h3>"))
        s.add(table(["unit", *columns], [[u, *[v.get(c) for c in columns]] for u, v in by_unit.items()], "by-unit"))


def reasons_section(page: Page, data: BuildData) -> None:
    m = data.manifest
    s = page.section("reasons", "Why records were dropped or quarantined")
    per_source: dict[str, dict[str, int]] = defaultdict(dict)
    for name, src in m["sources"].items():
        for reason, n in src["dropped"].items():
            per_source[reason][name] = n
    examples = Counter((r["kind"], r["reason"]) for r in data.dropped_samples + data.quarantine_samples)
    if m["dropped_by_reason"]:
        rows = [
            [reason, n, ", ".join(f"{k} {v:,}" for k, v in per_source[reason].items()), examples[("dropped", reason)]]
            for reason, n in sorted(m["dropped_by_reason"].items(), key=lambda kv: -kv[1])
        ]
        s.add(table(["reason", "dropped", "by source", "examples in the browser"], rows, "drop-reasons"))
        missing = [r[0] for r in rows if not r[3]]
        if missing:
            s.add(
                note(
                    f"No examples kept for {', '.join(missing)}: these are counted by steps that drop in bulk "
                    "(triples not sampled, a mixture's caps) or by a build made before examples were kept."
                )
            )
    else:
        s.add("Nothing was dropped.")
    quarantined: Counter = Counter()
    for name, src in m["sources"].items():
        for reason, n in src.get("quarantined_by_reason", {}).items():
            quarantined[(name, reason)] += n
    if quarantined:
        s.add(
            table(
                ["source", "quarantine reason", "records", "examples in the browser"],
                [[src, r, n, examples[("quarantined", r)]] for (src, r), n in sorted(quarantined.items())],
                "quarantine-reasons",
                numeric_from=2,
            )
        )
    else:
        s.add(note("No input record was quarantined."))


def lengths_section(page: Page, data: BuildData) -> None:
    s = page.section(
        "lengths",
        "Lengths",
        "Kept records. Words: runs of non-space characters, each Han character "
        "counted as one word. A log scale where lengths span orders of magnitude.",
    )
    by_source: dict[str, dict[str, Any]] = defaultdict(lambda: {"chars": [], "words": []})
    for (source, _), stats in data.lengths.items():
        by_source[source]["chars"].append(stats.array("chars"))
        by_source[source]["words"].append(stats.array("words"))
    import numpy as np

    chars = {src: np.concatenate(v["chars"]) for src, v in sorted(by_source.items())}
    words = {src: np.concatenate(v["words"]) for src, v in sorted(by_source.items())}
    s.add(
        row(
            chart(
                "length-chars", charts.svg(charts.histograms(chars, "Characters per record, by source", "characters"))
            ),
            chart("length-words", charts.svg(charts.histograms(words, "Words per record, by source", "words"))),
        )
    )
    splits = sorted({split for _, split in data.lengths})
    if len(splits) > 1:
        per_split = defaultdict(list)
        for (_, split), stats in data.lengths.items():
            per_split[split].append(stats.array("chars"))
        s.add(
            chart(
                "length-splits",
                charts.svg(
                    charts.histograms(
                        {k: np.concatenate(v) for k, v in sorted(per_split.items())},
                        "Characters per record, by split",
                        "characters",
                    )
                ),
            )
        )
    if data.token_lengths is not None:
        s.add(
            chart(
                "length-tokens",
                charts.svg(
                    charts.histograms(
                        {"all documents": data.token_lengths}, "Tokens per document (tokenized shards)", "tokens"
                    )
                ),
            )
        )
    rows = []
    for (source, split), stats in sorted(data.lengths.items()):
        sm = stats.summary()
        c, w = sm["chars"] or {}, sm["words"] or {}
        rows.append(
            [
                source,
                split,
                sm["records"],
                c.get("mean"),
                c.get("p50"),
                c.get("p95"),
                c.get("max"),
                w.get("mean"),
                w.get("p50"),
                w.get("total"),
            ]
        )
    s.add(
        table(
            [
                "source",
                "split",
                "records",
                "chars mean",
                "median",
                "p95",
                "max",
                "words mean",
                "median",
                "words total",
            ],
            rows,
            "lengths",
            numeric_from=2,
        )
    )


def languages_section(page: Page, data: BuildData) -> None:
    s = page.section(
        "languages",
        "Language mix",
        "The record's `language` field where it has one (instruction records); for documents, a guess from the "
        "script (the share of Han characters among letters), since no language model is available offline.",
    )
    if not data.languages:
        s.add("No records.")
        return
    table_data = {src: dict(c) for src, c in sorted(data.languages.items())}
    s.add(chart("languages", charts.svg(charts.stacked_shares(table_data, "Language by source"))))
    langs = sorted({k for c in data.languages.values() for k in c})
    s.add(
        table(
            ["source", *langs], [[src, *[c.get(k, 0) for k in langs]] for src, c in table_data.items()], "languages"
        )
    )


def dedup_section(page: Page, data: BuildData) -> None:
    m = data.manifest
    s = page.section("dedup", "Deduplication and decontamination")
    dedup = m.get("deduplication") or {}
    s.add(table(["deduplication", "records dropped"], [[k, v] for k, v in dedup.items()], "dedup"))
    decontam = m.get("decontamination") or {}
    if decontam:
        s.add(
            table(
                ["decontamination check", "records dropped"], [[k, v] for k, v in decontam.items()], "decontamination"
            )
        )
    else:
        s.add(note("No decontamination step dropped anything (or the recipe has none)."))
    checks = m.get("decontamination_checks")
    if checks:
        rows = [
            [
                c.get("source"),
                c.get("step"),
                c.get("removed"),
                ", ".join(f"{k} {v}" for k, v in (c.get("by_reason") or {}).items()),
            ]
            for c in checks
        ]
        s.add(
            table(
                ["source", "decontamination step", "removed", "by reason"],
                rows,
                "decontamination-checks",
                numeric_from=2,
            )
        )
    contamination = m.get("contamination")
    if contamination:
        rows = []
        for eval_set, sources in contamination.items():
            for source, entry in sources.items():
                if isinstance(entry, dict):
                    # counts only: `ngram_matches` (every n-gram drop with its span) is shown from the hit files
                    shown = {k: v for k, v in entry.items() if k != "examples" and not isinstance(v, (list, dict))}
                    rows.append(
                        [
                            eval_set,
                            source,
                            ", ".join(f"{k} {v}" for k, v in shown.items()),
                            _examples_text(entry.get("examples")),
                        ]
                    )
        s.add(table(["evaluation set", "source", "dropped", "examples"], rows, "contamination", numeric_from=9))
    if data.contamination_hits:
        rows = [
            [
                h.get("eval_set"),
                h.get("source"),
                h.get("check"),
                h.get("id"),
                h.get("ref"),
                h.get("coverage"),
                _matched(h),
            ]
            for h in data.contamination_hits
        ]
        s.add(Markup("<h3>Matched records, with what matched</h3>"))
        s.add(
            table(
                ["evaluation set", "source", "check", "record", "matches", "coverage", "matched span"],
                rows,
                "contamination-hits",
                numeric_from=9,
            )
        )


def _examples_text(examples: Any) -> str:
    if not examples:
        return ""
    return "; ".join(e if isinstance(e, str) else ", ".join(f"{k}: {v}" for k, v in e.items()) for e in examples)


def _matched(hit: dict[str, Any]) -> str:
    for key in ("span", "spans", "matched", "ngrams", "ngram"):
        value = hit.get(key)
        if value:
            return (
                " | ".join(value if isinstance(value, list) else [value])
                if not isinstance(value, dict)
                else str(value)
            )
    return "(matched by id)" if hit.get("check") == "id" else ""


def _details(data: BuildData, pattern: str) -> dict[str, dict[str, dict[str, float]]]:
    """{source: {step: stats}} of the per-step details whose step name matches `pattern`."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, src in data.manifest["sources"].items():
        steps = {step: stats for step, stats in (src.get("details") or {}).items() if re.search(pattern, step)}
        if steps:
            out[name] = steps
    return out


def _per_source(data: BuildData, key: str) -> dict[str, dict[str, Any]]:
    """{source: manifest["sources"][source][key]} for the sources that recorded `key`."""
    return {n: src[key] for n, src in data.manifest["sources"].items() if src.get(key)}


def books_section(page: Page, data: BuildData) -> None:
    details = _details(data, r"^books\.")
    books = data.manifest.get("books")
    stripping = _per_source(data, "book_stripping")
    if not details and not books and not stripping:
        return
    s = page.section(
        "books",
        "Books: what stripping removed",
        "Counted by the books steps: tables, figures, running heads, references, indexes... removed before chunking.",
    )
    for source, st in stripping.items():
        kept = st.get("share_of_chars_kept")
        if kept is not None:
            s.add(
                Markup(
                    f"<p><b>{escape(source)}</b>: {st.get('chars_out', 0):,} of {st.get('chars_in', 0):,} "
                    f"characters kept (<b>{kept:.1%}</b>).</p>"
                )
            )
        by_kind = st.get("chars_stripped_by_kind") or {}
        if by_kind:
            fig = charts.bars(by_kind, f"{source}: characters stripped, by kind", "characters", charts.PALETTE[5])
            s.add(chart(f"books-stripped-{source}", charts.svg(fig)))
        s.add(collapsed(f"{source}: every stripping statistic", generic_table(st, f"book-stripping-{source}")))
    for source, steps in details.items():
        for step, stats in steps.items():
            counts = {
                k.removeprefix("stripped_"): v
                for k, v in stats.items()
                if k.startswith("stripped_") and not k.endswith("_lines")
            }
            if counts:
                s.add(
                    chart(
                        f"books-{source}-{step}",
                        charts.svg(
                            charts.bars(
                                counts, f"{source}: blocks stripped by kind ({step})", "blocks", charts.PALETTE[5]
                            )
                        ),
                    )
                )
            s.add(
                collapsed(
                    f"{source}: {step} statistics",
                    table(["statistic", "value"], sorted(stats.items()), f"books-{step}"),
                )
            )
    if books:
        s.add(Markup("<h3>Per book</h3>"))
        s.add(generic_table(books, "books-manifest"))


def kg_section(page: Page, data: BuildData) -> None:
    details = _details(data, r"^kg\.")
    kg = data.manifest.get("kg") or data.manifest.get("knowledge_graph")
    coverage = _per_source(data, "kg_coverage")
    if not details and not kg and not coverage:
        return
    s = page.section(
        "kg",
        "Knowledge graph coverage",
        "How many triples ended in at least one subgraph document, and which sampler made the subgraphs.",
    )
    for source, steps in details.items():
        for step, stats in steps.items():
            if "triples_in" in stats and "triples_covered" in stats:
                covered = stats["triples_covered"] / max(stats["triples_in"], 1)
                s.add(
                    Markup(
                        f"<p><b>{escape(source)}</b>: {int(stats['triples_covered']):,} of "
                        f"{int(stats['triples_in']):,} triples covered (<b>{covered:.1%}</b>).</p>"
                    )
                )
            kinds = {k.removeprefix("subgraphs_"): v for k, v in stats.items() if k.startswith("subgraphs_")}
            if kinds:
                s.add(
                    chart(
                        f"kg-{source}",
                        charts.svg(
                            charts.bars(kinds, f"{source}: subgraphs by sampler", "documents", charts.PALETTE[2])
                        ),
                    )
                )
            s.add(
                collapsed(
                    f"{source}: {step} statistics", table(["statistic", "value"], sorted(stats.items()), f"kg-{step}")
                )
            )
    for source, cov in coverage.items():
        s.add(
            Markup(f"<h3>{escape(source)}: coverage recorded by the build</h3>"), generic_table(cov, f"kg-{source}")
        )
    if kg:
        s.add(generic_table(kg, "kg-manifest"))


def mixture_section(page: Page, data: BuildData) -> None:
    mixture = data.manifest.get("mixture")
    if mixture:
        page.section("mixture", "Mixture").add(generic_table(mixture, "mixture"))


def qa_section(page: Page, data: BuildData) -> None:
    if not data.qa_rows:
        return
    tokenizer = make_tokenizer(None)
    groups: dict[str, list[QAItem]] = defaultdict(list)
    for r in data.qa_rows:
        groups[r["group"]].append(QAItem(r["question"], r["context"], r["answer"], r["label"]))
    stats = [qa_stats(name, items, tokenizer) for name, items in sorted(groups.items())]
    header, rows = table_rows(stats)
    s = page.section(
        "qa",
        "QA statistics",
        f"Like AntGLM-Med's Table 5, for the multiple-choice records of each "
        f"task. Lengths in {tokenizer.name}; answer = the explanation where the record has one.",
    )
    s.add(table(header, rows, "qa-stats"))


def extra_section(page: Page, data: BuildData) -> None:
    extra = {k: v for k, v in data.manifest.items() if k not in KNOWN_KEYS and k not in ("books", "kg")}
    if extra:
        s = page.section("more", "More statistics", "Other statistics the build recorded in manifest.json.")
        for key, value in extra.items():
            s.add(Markup(f"<h3>{escape(key)}</h3>"), generic_table(value, f"extra-{key}"))


def generic_table(value: Any, name: str) -> Markup:
    """Any JSON value as a two-column table of flattened keys (statistics other engineers add over time)."""
    rows: list[list[Any]] = []

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict) and v:
            for k, sub in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), sub)
        elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v) and len(v) <= 200:
            for i, sub in enumerate(v):
                walk(f"{prefix}[{i}]", sub)
        else:
            rows.append([prefix, v if isinstance(v, (int, float, str)) or v is None else str(v)])

    walk("", value)
    return table(["key", "value"], rows[:500], name)


def browser_records(data: BuildData) -> list[dict[str, Any]]:
    """Kept samples, dropped and quarantined examples; contamination matches are highlighted in the text."""
    marks: dict[str, list[str]] = defaultdict(list)
    for hit in data.contamination_hits:
        for key in ("span", "spans", "matched", "ngrams"):
            value = hit.get(key)
            if isinstance(value, str):
                marks[hit.get("id")].append(value)
            elif isinstance(value, list):
                marks[hit.get("id")] += [v for v in value if isinstance(v, str)]
    out = []
    for r in data.kept_samples + data.dropped_samples + data.quarantine_samples:
        r = dict(r)
        if r.get("id") in marks:
            r["detail"] = {**(r.get("detail") or {}), "matched": " | ".join(marks[r["id"]])}
        r["html"] = highlight(r.get("text") or "", marks.get(r.get("id"), []))
        r.setdefault("split", None)
        out.append(r)
    return out


def highlight(text: str, spans: list[str]) -> Markup:
    """The text, escaped, with each occurrence of the given spans in <mark> (whitespace-insensitive)."""
    if not spans:
        return escape(text)
    patterns = [r"\s+".join(re.escape(w) for w in span.split()) for span in spans if span.strip()]
    if not patterns:
        return escape(text)
    regex = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    out, last = [], 0
    for match in regex.finditer(text):
        out.append(escape(text[last : match.start()]))
        out.append(Markup("<mark>") + escape(match.group(0)) + Markup("</mark>"))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


# ---- the card's images ---------------------------------------------------------------------------------------------


def card_images(data: BuildData) -> list[tuple[str, str]]:
    """Write the main plots as PNG files under OUTPUT/images/; returns [(title, relative path)] for the card."""
    import numpy as np

    out = data.root / IMAGES_DIR
    images = [("Where every input record went", charts.funnel(data.manifest["sources"]), "funnel.png")]
    if data.manifest["dropped_by_reason"]:
        images.append(
            (
                "Dropped, by reason",
                charts.bars(data.manifest["dropped_by_reason"], "Dropped, by reason", "records", charts.DROPPED),
                "drop_reasons.png",
            )
        )
    per_source: dict[str, list] = defaultdict(list)
    for (source, _), stats in data.lengths.items():
        per_source[source].append(stats.array("chars"))
    if per_source:
        lengths = {k: np.concatenate(v) for k, v in sorted(per_source.items())}
        images.append(
            (
                "Characters per record, by source",
                charts.histograms(lengths, "Characters per record, by source", "characters"),
                "lengths.png",
            )
        )
    for stale in out.glob("*.png"):  # the folder holds only the card's plots: none of an earlier build stays
        stale.unlink()
    written = []
    for title, fig, name in images:
        charts.save_png(fig, out / name)
        written.append((title, f"{IMAGES_DIR}/{name}"))
    return written


def card_section(images: list[tuple[str, str]]) -> str:
    return "\n\n".join(f"![{title}]({path})" for title, path in images) + (
        "\n\nThe full report (record browser, lengths, languages, decontamination) is `report.html` next to this "
        "card; it is not uploaded. Regenerate it with `corpusforge report <this folder>`."
    )
