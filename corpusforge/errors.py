"""Errors split by meaning, so callers (and the CLI) can act on them.

- ConfigError: the recipe or config is wrong; nothing was read or written yet.
- InputError: an input file cannot be used at all (missing, unreadable); single bad records are quarantined instead.
- BuildError: a run finished but broke an invariant (unbalanced accounting, quarantine under --strict, ...).
"""


class CorpusforgeError(Exception):
    """Base class of every error corpusforge raises on purpose."""


class ConfigError(CorpusforgeError):
    """A recipe/config problem, reported with the path of the offending key (e.g. `sources.books.path`)."""

    def __init__(self, problems: list[str] | str, source: str | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        super().__init__(where + "invalid configuration\n" + "\n".join(f"  - {p}" for p in self.problems))


class InputError(CorpusforgeError):
    """An input that cannot be read at all; the message names the file."""


class BuildError(CorpusforgeError):
    """A run that completed but whose result must not be trusted (the message says why)."""
