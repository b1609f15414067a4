"""The last step of a build: manifest.json (the counts) and README.md (the dataset card), from the stats."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from corpusforge import __version__
from corpusforge.builder.accounting import SourceAccount, account_plan, read_stage_stats
from corpusforge.builder.inputs import INPUTS_FILE, manifest_inputs
from corpusforge.builder.license_table import card_license, license_counts, license_markdown, manifest_section
from corpusforge.builder.plan import BuildPlan
from corpusforge.builder.reference_report import reference_dedup_summary, reference_dedup_text
from corpusforge.config import dump_yaml
from corpusforge.instruct.adapters.base import duplicate_ids
from corpusforge.instruct.eval_sets import CONTAMINATION_DIR, ContaminationReport
from corpusforge.instruct.mixing import MixtureReport
from corpusforge.output.card import card_metadata, markdown_table, render_card
from corpusforge.output.dataset_dir import (
    CARD,
    MANIFEST,
    QUARANTINE_DIR,
    split_files,
    write_json_atomic,
    write_text_atomic,
)
from corpusforge.output.schemas import validation_errors
from corpusforge.pipeline.steps.llm.reports import reports_markdown, step_warnings, summarize_reports

DEDUP_REASONS = ("exact_duplicate", "near_duplicate")


def parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def build_manifest(plan: BuildPlan, accounts: dict[str, SourceAccount], strict: bool) -> dict[str, Any]:
    out = plan.output_dir
    files = [
        {"path": rel, "split": split, "rows": parquet_rows(out / rel)}
        for split, paths in split_files(out).items()
        for rel in paths
    ]
    dropped_by_reason: dict[str, int] = {}
    for account in accounts.values():
        for reason, n in account.dropped.items():
            dropped_by_reason[reason] = dropped_by_reason.get(reason, 0) + n
    totals = {
        "input": sum(a.input for a in accounts.values()),
        "kept": sum(a.kept for a in accounts.values()),
        "dropped": sum(dropped_by_reason.values()),
        "quarantined": sum(a.quarantined for a in accounts.values()),
        "files_quarantined": sum(a.files_quarantined for a in accounts.values()),
    }
    rows = sum(f["rows"] for f in files)
    llm_steps = summarize_reports(plan.state_dir)  # model, settings and request counts of LLM steps
    quarantine_root = out / QUARANTINE_DIR
    warnings = (
        input_warnings(accounts, quarantine_root)
        + step_warnings(llm_steps)
        + output_warnings(rows, dropped_by_reason)
    )
    status = "ok"
    if not all(a.balanced for a in accounts.values()) or rows != sum(a.rows for a in accounts.values()):
        status = "unbalanced"
    elif strict and (totals["quarantined"] or totals["files_quarantined"] or warnings):
        status = "failed_strict"
    manifest = {
        "corpusforge_version": __version__,
        "recipe": plan.recipe.name,
        "kind": plan.recipe.kind,
        "status": status,
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "totals": totals,
        "rows_written": rows,
        "sources": {name: account.to_dict() for name, account in accounts.items()},
        "dropped_by_reason": dict(sorted(dropped_by_reason.items())),
        "totals_by_unit": totals_by_unit(accounts),
        "deduplication": {r: dropped_by_reason.get(r, 0) for r in DEDUP_REASONS},
        "decontamination": {r: n for r, n in sorted(dropped_by_reason.items()) if r.startswith(("pqal_", "eval_"))},
        "decontamination_checks": [
            {"source": name, "step": step, "removed": sum(reasons.values()), "by_reason": reasons}
            for name, account in accounts.items()
            for step, reasons in account.decontamination.items()
        ],
        "files": files,
        "quarantine_files": sorted(
            p.relative_to(out).as_posix() for p in quarantine_root.rglob("*.jsonl") if p.stat().st_size
        )
        if quarantine_root.is_dir()
        else [],
        "tokenized": _tokenized_summary(out),
        "licenses": manifest_section(license_counts(plan)),
        "warnings": warnings,
        "inputs": _recorded_inputs(plan),
    }

    if reference_checks := reference_dedup_summary(plan.state_dir):  # dedup.reference: against which corpus
        manifest["reference_dedup"] = reference_checks
    if llm_steps:
        manifest["llm_steps"] = llm_steps
    if plan.recipe.kind == "instruct":
        manifest["mixture"] = mixture_report(plan).to_dict()
    contamination = contamination_report(plan)
    if contamination is not None:  # a decontam.eval_sets step ran, in any stage
        manifest["contamination"] = contamination.to_dict()
        if skipped := contamination.not_checked_dict():
            manifest["contamination_not_checked"] = skipped
    errors = validation_errors("manifest", manifest)
    if errors:  # a bug in corpusforge, not in the input
        raise AssertionError(f"manifest does not match schemas/manifest.schema.json: {errors}")
    return manifest


def _recorded_inputs(plan: BuildPlan) -> dict[str, list[dict[str, Any]]]:
    """What the build read, as recorded when it started (builder/inputs.py): per YAML path, path, size, SHA-256."""
    path = plan.state_dir / INPUTS_FILE
    return manifest_inputs(json.loads(path.read_text())) if path.is_file() else {}


FILES_NAMED = 5  # unread files a warning names; the rest are in the quarantine folder


def input_warnings(accounts: dict[str, SourceAccount], quarantine_root: Path) -> list[str]:
    """What a user must not miss: a source that kept nothing because its input was quarantined, unread files
    (named, so a damaged or wrong file is found without opening the quarantine)."""
    warnings = []
    for name, a in accounts.items():
        if a.files_quarantined:
            reasons = ", ".join(f"{r} {n}" for r, n in sorted(a.files_quarantined_by_reason.items()))
            named = quarantined_files(quarantine_root / name, FILES_NAMED)
            more = f" and {a.files_quarantined - len(named)} more" if a.files_quarantined > len(named) else ""
            files = f": {', '.join(named)}{more}" if named else ""
            warnings.append(
                f"source {name!r}: {a.files_quarantined} input file(s) could not be read as records ({reasons})"
                f"{files}; see quarantine/{name}/"
            )
        if a.kept == 0 and a.quarantined and a.quarantined == a.input:
            warnings.append(
                f"source {name!r}: all {a.input} input records were quarantined, nothing was kept; "
                f"see quarantine/{name}/ for each record's error"
            )
        elif a.kept == 0 and a.input == 0 and a.files_quarantined:
            warnings.append(f"source {name!r}: no record could be read, nothing was kept")
    return warnings


def quarantined_files(folder: Path, limit: int) -> list[str]:
    """`file (reason)` of the first file-level quarantine entries of a source, read line by line."""
    found: list[str] = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if '"scope": "file"' not in line:
                    continue
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                found.append(f"{entry.get('location', {}).get('file', '?')} ({entry.get('reason', '?')})")
                if len(found) >= limit:
                    return found
    return found


def output_warnings(rows: int, dropped_by_reason: dict[str, int]) -> list[str]:
    """A build that wrote nothing is never a quiet success."""
    if rows:
        return []
    top = sorted(dropped_by_reason.items(), key=lambda kv: -kv[1])[:3]
    why = f" (most dropped: {', '.join(f'{r} {n}' for r, n in top)})" if top else ""
    return [f"the build wrote no records{why}; see the sources' counts"]


def totals_by_unit(accounts: dict[str, SourceAccount]) -> dict[str, dict[str, int]]:
    """Counts summed per unit (records, books, triples, chunks, subgraphs), each adding up on its own:
    input = kept + expanded (turned into documents of another unit) + dropped + quarantined."""
    out: dict[str, dict[str, int]] = {}
    for account in accounts.values():
        last = len(account.segments) - 1
        for i, seg in enumerate(account.segments):
            row = out.setdefault(seg.unit, {"input": 0, "kept": 0, "expanded": 0, "dropped": 0, "quarantined": 0})
            row["input"] += seg.input
            row["kept" if i == last else "expanded"] += seg.output
            row["dropped"] += sum(seg.dropped.values())
            row["quarantined"] += seg.quarantined
    return out


def mixture_report(plan: BuildPlan) -> MixtureReport:
    """The mixture of an instruct build, from the write stage's stats."""
    write = next(s for s in plan.stages if s.name == "write")
    stats: dict[str, float] = {}
    for step in read_stage_stats(plan.stage_logs(write)):
        for key, value in step.items():
            stats[key] = stats.get(key, 0) + value
    return MixtureReport.from_stats(stats)


def contamination_report(plan: BuildPlan) -> ContaminationReport | None:
    """What decontam.eval_sets checked and removed (None when no such step ran in this build)."""
    folder = plan.work_dir / CONTAMINATION_DIR
    if not folder.is_dir():
        return None
    return ContaminationReport.from_folder(folder)


def _tokenized_summary(out: Path) -> dict[str, Any] | None:
    folder = out / "tokenized"
    if not folder.is_dir():
        return None
    tokens = 0
    for meta in folder.glob("*.metadata"):
        first = meta.read_text().splitlines()[:2]
        if len(first) == 2 and first[1].strip().isdigit():
            tokens += int(first[1])
    return {"folder": "tokenized", "files": len(list(folder.glob("*.ds"))), "tokens": tokens}


def build_card(plan: BuildPlan, manifest: dict[str, Any]) -> str:
    recipe = plan.recipe
    spec = recipe.output.card
    splits = {split: f"data/{split}/*.parquet" for split in sorted({f["split"] for f in manifest["files"]})}
    meta = card_metadata(
        {"default": splits or {"train": "data/train/*.parquet"}},
        output_dir=plan.output_dir,
        language=spec.language or None,
        tags=spec.tags or None,
        task_categories=["text-generation"],
        pretty_name=spec.title or recipe.name,
        **card_license(spec.license, manifest["licenses"]["by_license"]),
    )
    t = manifest["totals"]
    instruct = recipe.kind == "instruct"
    by_unit = manifest["totals_by_unit"]
    kept = sum(row["kept"] for row in by_unit.values())
    summary = (
        f"**{manifest['rows_written']:,}** rows written. Status: `{manifest['status']}`. "
        + (
            f"The mixture weights records: {kept:,} kept records make {manifest['rows_written']:,} rows. "
            if manifest["rows_written"] != kept
            else ""
        )
        + "Every count below adds up in its own unit"
        + (
            " (a step that makes documents of another unit, such as books into chunks, counts its input as turned "
            "into documents of another unit)"
            if len(by_unit) > 1 and any(r["expanded"] for r in by_unit.values())
            else ""
        )
        + ":\n\n"
        + "\n".join(f"- {unit_line(unit, row)}" for unit, row in by_unit.items())
    )
    source_rows = [
        [
            name,
            f"{s['input']:,} {s['segments'][0]['unit']}",
            f"{s['kept']:,} {s['segments'][-1]['unit']}",
            dropped_cell(s),
            s["quarantined"],
            "yes" if s["balanced"] else "NO",
        ]
        for name, s in manifest["sources"].items()
    ]
    if manifest.get("warnings"):
        summary += "\n\n**Warnings:**\n\n" + "\n".join(f"- {w}" for w in manifest["warnings"])
    if t.get("files_quarantined"):
        summary += (
            f"\n\n{t['files_quarantined']} input file(s) could not be cut into records and are quarantined whole."
        )
    sections = [
        ("Summary", summary),
        (
            "Sources",
            markdown_table(["source", "input", "kept", "dropped", "quarantined", "balanced"], source_rows)
            + "\n\nPer source: "
            + "; ".join(f"`{n}`: {s['balance']}" for n, s in manifest["sources"].items()),
        ),
        (
            "Dropped, by reason",
            markdown_table(["reason", "documents"], [[r, n] for r, n in manifest["dropped_by_reason"].items()])
            if manifest["dropped_by_reason"]
            else "Nothing was dropped.",
        ),
        ("Licences", license_markdown(manifest["licenses"]["by_license"])),
        ("Deduplication", markdown_table(["kind", "documents dropped"], list(manifest["deduplication"].items()))),
        ("Decontamination", decontamination_text(manifest)),
        *(
            [("Deduplication against reference corpora", reference_dedup_text(manifest["reference_dedup"]))]
            if manifest.get("reference_dedup")
            else []
        ),
        *([("Contamination report", report.to_markdown())] if (report := contamination_report(plan)) else []),
        *([("Stripping and coverage", stripping_text(manifest))] if stripping_text(manifest) else []),
        (
            "Quarantine",
            f"{t['quarantined']} input records are kept raw with their location and reason in `quarantine/` "
            "(not part of the dataset; malformed records, and books a stripping step would have mostly removed)"
            + (
                ": " + ", ".join(f"`{r}` {n}" for r, n in quarantine_reasons(manifest).items())
                if t["quarantined"]
                else ""
            )
            + "; see schemas/quarantine.schema.json.",
        ),
        (
            "Record format",
            "Each row follows corpusforge's `schemas/instruction.schema.json`: `messages` (system/user/assistant), "
            "`source`, `task`, `task_id`, `language`, `mc` (question, context, options, answer key, explanation "
            "for multiple choice), `provenance` and `meta`."
            if instruct
            else "Each row follows corpusforge's `schemas/document.schema.json`: `id`, `text`, `source`, "
            "`provenance` (file and line/offset/element/PMID), `transforms` (the steps applied, in order) and "
            "`meta` (JSON text of source-specific extras).",
        ),
        *(_instruct_sections(plan) if instruct else []),
        *(_id_sections(manifest) if instruct else []),
        *(_llm_sections(manifest) if manifest.get("llm_steps") else []),
        ("Loading", loading_text(manifest, plan.output_dir)),
        (
            "Recipe",
            f"Built by corpusforge {__version__} from this resolved recipe:\n\n```yaml\n{dump_yaml(recipe)}```",
        ),
    ]
    return render_card(meta, spec.title or recipe.name, sections, intro=spec.description or recipe.description)


def quarantine_reasons(manifest: dict[str, Any]) -> dict[str, int]:
    """Quarantined records by reason, over all sources."""
    out: dict[str, int] = {}
    for source in manifest["sources"].values():
        for reason, n in source.get("quarantined_by_reason", {}).items():
            out[reason] = out.get(reason, 0) + n
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def unit_line(unit: str, row: dict[str, int]) -> str:
    terms = [f"{row['kept']:,} kept"]
    if row["expanded"]:
        terms.append(f"{row['expanded']:,} turned into documents of another unit")
    terms += [f"{row['dropped']:,} dropped", f"{row['quarantined']:,} quarantined"]
    return f"{unit}: {row['input']:,} in = " + " + ".join(terms)


def dropped_cell(source: dict[str, Any]) -> str:
    """Drops per unit when a source changes unit (`2 books + 4 chunks`), else one number."""
    parts = [(sum(seg["dropped"].values()), seg["unit"]) for seg in source["segments"]]
    if len(parts) == 1:
        return f"{parts[0][0]:,}"
    return " + ".join(f"{n:,} {unit}" for n, unit in parts)


def decontamination_text(manifest: dict[str, Any]) -> str:
    """`ran, removed N` per configured check, or `not configured`: a check that found nothing is not absent."""
    checks = manifest.get("decontamination_checks") or []
    if not checks:
        return "Not configured: no `decontam.*` step in this recipe, so nothing was checked against evaluation sets."
    lines = []
    contamination = manifest.get("contamination") or {}
    for c in checks:
        reasons = ", ".join(f"{r} {n:,}" for r, n in c["by_reason"].items() if n)
        found = f"removed {c['removed']:,} ({reasons})" if c["removed"] else "removed 0 (nothing matched)"
        checked = ""
        if c["step"].startswith("decontam.eval_sets"):
            per_set = {s: e[c["source"]]["checked"] for s, e in contamination.items() if c["source"] in e}
            by_count: dict[int, list[str]] = {}
            for eval_set, n in per_set.items():
                by_count.setdefault(n, []).append(f"`{eval_set}`")
            checked = "; ".join(f"{n:,} documents against {', '.join(sets)}" for n, sets in by_count.items() if n)
            if not checked:
                why = manifest.get("contamination_not_checked", {}).get(c["source"], {})
                reasons = ", ".join(f"{w} {n:,}" for w, n in why.items())
                checked = "**no document** (" + (reasons or "none reached the step") + "), so"
        lines.append(
            f"- `{c['step']}` ran on `{c['source']}`: " + (f"checked {checked}; " if checked else "") + found
        )
    return "\n".join(lines)


def stripping_text(manifest: dict[str, Any]) -> str:
    """Per source: how much of its books' text was kept and what was stripped; how much of its graph was covered."""
    parts = []
    for name, s in manifest["sources"].items():
        b = s.get("book_stripping")
        if b:
            kinds = ", ".join(f"{k} {n:,}" for k, n in b["chars_stripped_by_kind"].items())
            share = b["share_of_chars_kept"]
            parts.append(
                f"- `{name}`: {b['chars_out']:,} of {b['chars_in']:,} characters kept"
                + (f" ({share:.1%})" if share is not None else "")
                + (f"; stripped, in characters: {kinds}" if kinds else "")
                + (
                    f"; {b['chars_in_quarantined_books']:,} characters in quarantined books"
                    if b["chars_in_quarantined_books"]
                    else ""
                )
            )
        k = s.get("kg_coverage")
        if k:
            share = k["share_covered"]
            line = (
                f"- `{name}`: {k['triples_covered']:,} of {k['triples_in_graph']:,} triples covered by subgraphs"
                + (f" ({share:.1%})" if share is not None else "")
            )
            if k["template_fallbacks"]:
                line += (
                    "; relations verbalized by the generic fallback (no template; add one under `templates:`): "
                    + (", ".join(f"`{r}` {n:,}" for r, n in k["template_fallbacks"].items()))
                )
            parts.append(line)
    return "\n".join(parts)


def _instruct_sections(plan: BuildPlan) -> list[tuple[str, str]]:
    mixture = mixture_report(plan)
    mix = plan.recipe.mix
    splits = ", ".join(f"{name} {share:.0%}" for name, share in mix.splits.items())
    return [
        (
            "Mixture",
            f"Seed {mix.seed}; held-out splits by a hash of the record id: {splits or 'none'}; "
            f"records already in {mix.keep_splits} keep their split.\n\n" + mixture.to_markdown(mix),
        ),
        ("Tasks", markdown_table(["task", "task_id"], sorted(plan.recipe.tasks.items(), key=lambda kv: kv[1]))),
    ]


def _id_sections(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    counts = duplicate_ids(manifest)
    if not counts:
        return []
    note = "Records whose source id was already used by another record of the source; each is kept as `<id>~<n>`."
    return [("Repeated record ids", note + "\n\n" + markdown_table(["source", "repeated ids"], list(counts.items())))]


def _llm_sections(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    return [("LLM steps", reports_markdown(manifest["llm_steps"]))]


def finalize(plan: BuildPlan, strict: bool = False) -> dict[str, Any]:
    """Write manifest.json and README.md; return the manifest."""
    manifest = build_manifest(plan, account_plan(plan), strict)
    write_json_atomic(plan.output_dir / MANIFEST, manifest)
    card = plan.output_dir / CARD
    if manifest["status"] == "ok":
        write_text_atomic(card, build_card(plan, manifest))
    elif card.exists():  # never leave the card of an earlier, good build next to a bad one
        card.unlink()
    return manifest


def manifest_json(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=2, ensure_ascii=False)


def loading_text(manifest: dict[str, Any], output_dir: Path) -> str:
    """How to load the dataset, or, when nothing was kept, that there is nothing to load and where to look."""
    if not manifest.get("rows_written"):
        return (
            "**This build kept no records**, so there is nothing to load: every input record was dropped or "
            "quarantined (see *Sources*, *Dropped, by reason* and *Quarantine* above)."
        )
    return f'```python\nfrom datasets import load_dataset\nds = load_dataset("{output_dir}")\n```'
