"""Licence ids per record: what a source says about its licence, turned into one short id users can filter on.

Ids are the Hugging Face Hub's licence ids where one exists (`cc-by-4.0`, `cc-by-nc-nd-4.0`, `cc0-1.0`, `mit`,
`apache-2.0`), plus `public-domain` (no Hub id; Project Gutenberg's US public-domain books, NCBI's notice),
`other` (a licence was stated but is not one of these), `unknown` (nothing was stated) and `mixed` (a document
made from records under several licences). A source states its
licence as a URL (`https://creativecommons.org/licenses/by-nc/4.0/`), a name ("Creative Commons Attribution
4.0 International License", "CC BY-NC-SA"), or an SPDX id (`CC-BY-4.0`); `license_id` reads all of them.

`COMMERCIAL_USE` is the allow-list of the common "commercial training allowed" policy (`filter.license`).
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

UNKNOWN = "unknown"
OTHER = "other"
PUBLIC_DOMAIN = "public-domain"
MIXED = "mixed"  # a document made from records of several licences (a subgraph over differently licensed files)

# licences that allow commercial use and derivatives (attribution may be required)
COMMERCIAL_USE = ("cc0-1.0", "cc-by-*", PUBLIC_DOMAIN, "mit", "apache-2.0", "bsd-*", "unlicense", "pddl", "odc-by")
NON_COMMERCIAL_OR_NO_DERIVATIVES = ("*-nc-*", "*-nc", "*-nd-*", "*-nd")

_CC_URL = re.compile(r"creativecommons\.org/licen[cs]es/([a-z-]+)/(\d(?:\.\d)?)?", re.IGNORECASE)
_CC0 = re.compile(r"creativecommons\.org/publicdomain/zero|\bcc0\b|\bcc[\s-]?zero\b", re.IGNORECASE)
_PD_MARK = re.compile(r"creativecommons\.org/publicdomain/mark|\bpublic[\s-]domain\b", re.IGNORECASE)
_CC_SHORT = re.compile(r"\bcc[\s-]?(by(?:[\s-](?:nc|nd|sa)){0,2})(?:[\s-](\d\.\d))?\b", re.IGNORECASE)
_CC_NAME = re.compile(r"creative\s+commons\s+(?:attribution|by)\b(?P<rest>.{0,80})", re.IGNORECASE | re.DOTALL)
_VERSION = re.compile(r"\b(\d\.\d)\b")
_SIMPLE = [
    (re.compile(r"\bapache(?:[\s-]license)?[\s,-]*(?:version\s*)?2(?:\.0)?\b", re.IGNORECASE), "apache-2.0"),
    (re.compile(r"\bmit(?:[\s-]licen[cs]e)?\b", re.IGNORECASE), "mit"),
    (re.compile(r"\bunlicense\b", re.IGNORECASE), "unlicense"),
    (re.compile(r"\bbsd[\s-]?3", re.IGNORECASE), "bsd-3-clause"),
    (re.compile(r"\bbsd[\s-]?2", re.IGNORECASE), "bsd-2-clause"),
    (re.compile(r"\bgpl[\s-]?v?3", re.IGNORECASE), "gpl-3.0"),
    (re.compile(r"\bodc[\s-]?by\b", re.IGNORECASE), "odc-by"),
    (re.compile(r"\bpddl\b", re.IGNORECASE), "pddl"),
]
_ID = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")


def _cc_id(parts: str, version: str | None) -> str:
    """`by-nc-sa` + `4.0` -> `cc-by-nc-sa-4.0` (parts in the canonical order by, nc, nd/sa)."""
    words = [w for w in re.split(r"[\s-]+", parts.lower()) if w]
    order = [w for w in ("by", "nc", "nd", "sa") if w in words]
    return "-".join(["cc", *order, *([version] if version else [])])


def _cc_from_name(rest: str) -> str:
    """The clauses of a spelled-out CC licence ("Attribution-NonCommercial-NoDerivatives 4.0 International")."""
    low = rest.lower()
    parts = ["by"]
    if re.search(r"non[\s-]?commercial", low):
        parts.append("nc")
    if re.search(r"no[\s-]?deriv", low):
        parts.append("nd")
    if re.search(r"share[\s-]?alike", low):
        parts.append("sa")
    version = _VERSION.search(rest)
    return _cc_id("-".join(parts), version.group(1) if version else None)


def license_id(*statements: str | None) -> str:
    """The licence id of what a source states (URLs, names, ids; the first that is recognized wins), `other`
    when something was stated but not recognized, `unknown` when nothing was."""
    stated = [s.strip() for s in statements if s and s.strip()]
    for text in stated:
        found = _recognize(text)
        if found:
            return found
    return OTHER if stated else UNKNOWN


def _recognize(text: str) -> str | None:
    if (m := _CC_URL.search(text)) is not None:
        return _cc_id(m.group(1), m.group(2))
    if _CC0.search(text):
        return "cc0-1.0"
    if (m := _CC_NAME.search(text)) is not None:
        return _cc_from_name(m.group("rest"))
    if (m := _CC_SHORT.search(text)) is not None:
        return _cc_id(m.group(1), m.group(2))
    if _PD_MARK.search(text):
        return PUBLIC_DOMAIN
    for pattern, name in _SIMPLE:
        if pattern.search(text):
            return name
    low = text.strip().lower()
    if low in (UNKNOWN, OTHER):
        return low
    return None


def recipe_license(value: str) -> str:
    """A recipe's `license:` for a source: a recognized statement becomes its id; any other short id is kept as
    the user wrote it (lower-cased), so a licence this table does not know can still be named and filtered on."""
    found = _recognize(value)
    if found:
        return found
    low = value.strip().lower()
    return low if _ID.match(low) else OTHER


def matches(license: str, patterns: list[str] | tuple[str, ...]) -> bool:
    """Whether a licence id matches any of the glob patterns (`cc-by-*`, `*-nc-*`, `mit`)."""
    return any(fnmatchcase(license, p.lower()) for p in patterns)


# ---- Project Gutenberg -----------------------------------------------------------------------------------------
_GUTENBERG = re.compile(r"project\s+gutenberg", re.IGNORECASE)
_GUTENBERG_COPYRIGHTED = re.compile(r"copyrighted\s+project\s+gutenberg", re.IGNORECASE)
GUTENBERG_HEAD_CHARS = 20_000


def gutenberg_license(text: str) -> str | None:
    """The licence of a Project Gutenberg book from its notice (header or footer): `public-domain` for the usual
    US public-domain eBook, `other` for a "copyrighted Project Gutenberg eBook", None when there is no notice.
    Read before the notice is stripped (books.strip_nontext removes it)."""
    head, tail = text[:GUTENBERG_HEAD_CHARS], text[-GUTENBERG_HEAD_CHARS:]
    if not (_GUTENBERG.search(head) or _GUTENBERG.search(tail)):
        return None
    if _GUTENBERG_COPYRIGHTED.search(head) or _GUTENBERG_COPYRIGHTED.search(tail):
        return OTHER
    if re.search(r"START OF (?:THE|THIS) PROJECT GUTENBERG", head, re.IGNORECASE) or re.search(
        r"END OF (?:THE|THIS) PROJECT GUTENBERG", tail, re.IGNORECASE
    ):
        return PUBLIC_DOMAIN
    return None
