"""`filter.license`: keep only documents whose licence a policy allows, dropping the rest with a counted reason.

Every document carries a `license` id (set by its reader, see corpusforge/pipeline/licenses.py). A policy is an
allow list and a deny list of ids or glob patterns (`cc-by-*`, `*-nc-*`); a deny match wins. `policy:
commercial` is the common "commercial training allowed" policy: CC0, CC BY (any version, also -SA), public domain,
MIT, Apache-2.0, BSD allowed; non-commercial (NC), no-derivatives (ND), `other` and `unknown` dropped.

Drops: `license_denied` (a deny pattern matched) or `license_not_allowed` (no allow pattern matched); per licence
id, the stats count `removed_license/<id>` too, so the card can say what was removed.
"""

from __future__ import annotations

from typing import Literal

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from pydantic import model_validator

from corpusforge.pipeline.licenses import COMMERCIAL_USE, NON_COMMERCIAL_OR_NO_DERIVATIVES, UNKNOWN, matches
from corpusforge.pipeline.registry import StepParams, register

POLICIES = {
    "commercial": (list(COMMERCIAL_USE), list(NON_COMMERCIAL_OR_NO_DERIVATIVES)),
}


@register("filter.license")
class LicenseFilter(BaseFilter):
    """Drop documents whose licence a policy does not allow (license_denied / license_not_allowed)."""

    class Params(StepParams):
        policy: Literal["commercial"] | None = None
        """a named policy (commercial: CC0, CC BY, public domain, MIT, Apache-2.0 allowed); allow/deny add to it"""
        allow: list[str] = []
        """licence ids or glob patterns kept (empty, with no policy: every licence not denied is kept)"""
        deny: list[str] = []
        """licence ids or glob patterns dropped, even when allowed (e.g. "*-nc-*", unknown)"""

        @model_validator(mode="after")
        def _something_to_do(self):
            if self.policy is None and not self.allow and not self.deny:
                raise ValueError("give `policy: commercial`, or an `allow` and/or `deny` list of licence ids")
            return self

    def __init__(self, policy: str | None = None, allow: list[str] = (), deny: list[str] = ()):
        super().__init__()
        base_allow, base_deny = POLICIES.get(policy or "", ([], []))
        self.allow = [p.lower() for p in [*base_allow, *allow]]
        self.deny = [p.lower() for p in [*base_deny, *deny]]

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        license = str(doc.metadata.get("license") or UNKNOWN).lower()
        if matches(license, self.deny):
            self.stat_update(f"removed_license/{license}")
            return False, "license_denied"
        if self.allow and not matches(license, self.allow):
            self.stat_update(f"removed_license/{license}")
            return False, "license_not_allowed"
        return True
