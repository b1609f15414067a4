"""Where the Hub token comes from, and keeping it out of everything corpusforge prints or writes.

Order: `--token-file PATH` (first line of the file), then huggingface_hub's own lookup (the HF_TOKEN environment
variable, then the token stored by `hf auth login` under HF_HOME). The token is passed to huggingface_hub
directly; corpusforge never prints, logs or writes it, and `redact` scrubs it from any error message it relays.
"""

from __future__ import annotations

from pathlib import Path

from corpusforge.errors import ConfigError


def resolve_token(token_file: str | Path | None = None) -> str:
    """The token to push with; ConfigError (never showing a token) when there is none."""
    if token_file is not None:
        path = Path(token_file)
        if not path.is_file():
            raise ConfigError(f"--token-file {path}: file not found")
        lines = path.read_text(encoding="utf-8").strip().splitlines()
        token = lines[0].strip() if lines else ""
        if not token:
            raise ConfigError(f"--token-file {path}: the file is empty")
        return token
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise ConfigError(
            "no Hugging Face token: set HF_TOKEN, run `hf auth login`, or pass --token-file PATH "
            "(a file holding the token)"
        )
    return token


def redact(text: str, token: str | None) -> str:
    """`text` with every occurrence of the token replaced (for error messages relayed from the Hub client)."""
    return text.replace(token, "***") if token else text
