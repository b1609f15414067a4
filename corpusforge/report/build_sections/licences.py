"""The licence table of a build: records and tokens per licence id (from manifest.json's `licenses`)."""

from __future__ import annotations

from corpusforge.report.build import BuildData
from corpusforge.report.page import Page, note, table


def licences_section(page: Page, data: BuildData) -> None:
    licenses = data.manifest.get("licenses")
    if not licenses:
        return  # a build made before licences were counted
    rows = licenses.get("by_license") or {}
    s = page.section(
        "licences",
        "Licences",
        "Per record, the licence its source states (a JATS article's license element, a PMC row's license field) or the "
        "recipe's `license:` for the source; `unknown` where neither says. `filter.license` keeps what a policy allows.",
    )
    if not rows:
        s.add(note("No records were written, so there is no licence to report."))
        return
    records = sum(r["records"] for r in rows.values()) or 1
    tokens = sum(r["tokens"] for r in rows.values()) or 1
    s.add(
        table(
            ["licence", "records", "share", "tokens", "share of tokens"],
            [
                [lic, r["records"], f"{r['records'] / records:.1%}", r["tokens"], f"{r['tokens'] / tokens:.1%}"]
                for lic, r in rows.items()
            ],
            "licences",
        ),
        note(f"Tokens: {licenses.get('token_unit', 'words')}."),
    )
