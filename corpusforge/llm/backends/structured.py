"""JSON Schema and regex constraints for the transformers backend, with xgrammar (the library vLLM uses).

Without a constraint a small model answers a JSON request in prose (SmolLM2-135M on transformers: 0 of 10 answers
were JSON, and the build wrote nothing). xgrammar compiles the schema against the tokenizer once and masks, at each
decoding step, every token that would leave the grammar; `xgrammar.contrib.hf.LogitsProcessor` is its
transformers adapter. JSON is compiled without free whitespace, as vLLM's LLM-step engines are configured (a
small model otherwise pads JSON with whitespace until max_tokens).
"""

from __future__ import annotations

import importlib.util
import json
from typing import Any

from corpusforge.errors import ConfigError

INSTALL_HINT = "pip install xgrammar (installed with vLLM)"


def available() -> bool:
    """Whether xgrammar can be imported (checked before any I/O by steps that need a constraint)."""
    return importlib.util.find_spec("xgrammar") is not None


def require(where: str) -> None:
    """Refuse a structured request up front, naming the backend, when xgrammar is missing."""
    if not available():
        raise ConfigError(
            f"{where}: the transformers backend constrains JSON Schema / regex answers with xgrammar, which is not "
            f"installed: {INSTALL_HINT}, or use the vllm or openai backend"
        )


class GrammarCache:
    """Compiled grammars per (kind, pattern) for one tokenizer: a schema is compiled once per engine."""

    def __init__(self, tokenizer: Any, vocab_size: int):
        require("model.backend.type=transformers")
        import xgrammar as xgr  # heavy (compiled bindings): only when a constrained request comes

        self.xgr = xgr
        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size)
        self.compiler = xgr.GrammarCompiler(info)
        self.compiled: dict[tuple[str, str], Any] = {}

    def grammar(self, json_schema: str | None, regex: str | None) -> Any:
        key = ("json", json_schema) if json_schema else ("regex", regex or "")
        if key not in self.compiled:
            if json_schema:
                self.compiled[key] = self.compiler.compile_json_schema(json.loads(json_schema), any_whitespace=False)
            else:
                self.compiled[key] = self.compiler.compile_regex(regex)
        return self.compiled[key]

    def logits_processor(self, json_schema: str | None, regex: str | None) -> Any:
        """A fresh processor for one `generate` call (xgrammar's processor keeps per-call matcher state)."""
        from xgrammar.contrib.hf import LogitsProcessor

        return LogitsProcessor(self.grammar(json_schema, regex))
