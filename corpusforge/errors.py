"""Errors split by meaning, so callers (and the CLI) can act on them.

- ConfigError: the recipe or config is wrong; nothing was read or written yet.
- InputError: an input file cannot be used at all (missing, unreadable); single bad records are quarantined instead.
- BuildError: a run finished but broke an invariant (unbalanced accounting, quarantine under --strict, ...).
"""


class CorpusforgeError(Exception):
    """Base class of every error corpusforge raises on purpose."""


class ConfigError(CorpusforgeError):
    """A recipe/config problem, reported with the path of the offending key (e.g. `sources.books.path`)."""

    def __init__(
        self, problems: list[str] | str, source: str | None = None, locations: list[str | None] | None = None
    ):
        """`locations`: per problem, `FILE:LINE:COLUMN` of its key when known (config.py finds them), shown first."""
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        self.locations = list(locations) if locations else [None] * len(self.problems)
        shown = [f"{at}: {p}" if at else p for at, p in zip(self.locations, self.problems)]
        where = f"{source}: " if source else ""
        if len(shown) == 1:  # one line that names the key (and the file when known)
            super().__init__(shown[0] if self.locations[0] else where + shown[0])
        else:
            lines = "\n".join(f"  - {p}" for p in shown)
            super().__init__(f"{where}{len(shown)} problems in the configuration\n{lines}")


class InputError(CorpusforgeError):
    """An input that cannot be read at all; the message names the file."""


class BuildError(CorpusforgeError):
    """A run that completed but whose result must not be trusted (the message says why)."""


class StopRequested(CorpusforgeError):
    """The user stopped a run (SIGINT/SIGTERM) and it stopped cleanly; the message says how to resume."""

    def __init__(self, message: str, signum: int):
        self.signum = signum
        super().__init__(message)


# ---- errors from libraries that a user causes, told in one or two lines (the CLI's last line of defence) ----

DEBUG_ENV = "CORPUSFORGE_DEBUG"
_NETWORK_ERRORS = {"TransportError", "NetworkError", "ConnectError", "ConnectTimeout", "TimeoutException"}
_NETWORK_ROOTS = {"httpx", "httpx2", "httpcore", "requests", "urllib3"}


def debug_enabled() -> bool:
    """`corpusforge --debug ...` (or CORPUSFORGE_DEBUG=1, which child processes inherit): show tracebacks."""
    import os

    return os.environ.get(DEBUG_ENV, "") not in ("", "0", "false", "no")


def is_network_error(error: BaseException) -> bool:
    """A connection that could not be made or timed out (httpx, httpx2, requests or urllib3), not an HTTP status."""
    for cls in type(error).__mro__:
        root = cls.__module__.split(".")[0]
        if root in _NETWORK_ROOTS and (cls.__name__ in _NETWORK_ERRORS or cls.__name__ == "ConnectionError"):
            return True
    return False


def hub_endpoint() -> str:
    import os

    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def describe_library_error(error: BaseException) -> str | None:
    """One or two lines for an error a user caused that reached the CLI from a library; None for anything else.

    Most such errors are caught where they happen and raised again as ConfigError/InputError naming the key;
    this covers the rest so that none of them ends in a 100-line traceback.
    """
    name = {cls.__name__ for cls in type(error).__mro__}
    if "HFValidationError" in name:
        return f"invalid Hugging Face repo id: {first_line(error)}\n  use NAME or NAMESPACE/NAME (letters, digits, -, _, .)"
    if "OfflineModeIsEnabled" in name or is_network_error(error):
        return (
            f"cannot reach the Hugging Face Hub at {hub_endpoint()}: {first_line(error)}\n"
            "  check the network (or HF_ENDPOINT); with HF_HUB_OFFLINE=1 only local files and the cache are used"
        )
    if "RepositoryNotFoundError" in name or "GatedRepoError" in name:
        return f"{first_line(error)}\n  check the repo id, and that your token (HF_TOKEN) may read it"
    if "HfHubHTTPError" in name:
        return f"the Hub refused the request: {first_line(error)}"
    if isinstance(error, OSError) and getattr(error, "filename", None):
        return f"{error.filename}: {error.strerror or first_line(error)}"
    text = str(error)
    if isinstance(error, OSError) and (
        "is not a local folder and is not a valid model identifier" in text
        or "couldn't connect to" in text
        or "Repo id must be in the form" in text
    ):  # transformers' from_pretrained on a path that does not exist
        import os

        return (
            f"a model or tokenizer could not be loaded: {first_line(error)}\n"
            f"  check the path you gave (relative paths are relative to {os.getcwd()}), or the Hub id and network"
        )
    return None
