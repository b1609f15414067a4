"""The answer a piece of reasoning states ("... so the answer is C) maybe", "答案是C"), if it states one.

CoT's reasoning and VoC's verification often end on a conclusion; the label must be that conclusion, not what a
separate constrained request says afterwards (a small model's bias toward "A" wins there). A statement is an
answer phrase followed by an option in the prompt's forms or the model's own: the key ("C", "(C)", "C)"), key and
text ("C) maybe"), or the text ("Maybe", "maybe."), in English and Chinese. A phrase that quotes the question ("why the answer
is A) yes") or negates ("the answer is not yes") states nothing, and so does a text whose statements name different
options: small models list every option ("The answer is A) yes. The answer is B) no. The answer is C) maybe.")
rather than conclude, and picking one of them would be our choice, not the model's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from corpusforge.label.config import OptionSpec

# what a model writes before its conclusion (English, then Chinese); the option follows
_LEAD = re.compile(
    r"(?i:(?:\b(?:final|correct|best|right|my)\s+)?\b(?:answer|option|choice|conclusion)\b"
    r"(?:\s+to\s+(?:the|this)\s+question)?\s*(?:\bis\b|\bwould\s+be\b|\bshould\s+be\b|\bwill\s+be\b|[:=])"
    r"|\bI\s+(?:would\s+)?(?:choose|pick|select|go\s+with)\b)"
    r"|(?:最终|正确)?答案\s*(?:应该?是|应为|是|为|选)?|应该?选择?|选择"
)
# between the lead and the option: a colon, quotes, emphasis, brackets, spaces and line breaks
_GAP = re.compile(r"[\s:：\-\"'“”‘’*_「『]*")
# a lead quoted from the prompt or a hypothesis, not a conclusion
_NOT_A_CONCLUSION = re.compile(r"(?i:\b(?:why|whether|if|that|think\s+about)\s+(?:the\s+)?)$")
_KEY_END = re.compile(r"(?:[\)\]）】\.:,。，;；\"'”*]|\s*$|\s*\n)")

# the words a model uses for the PubMedQA labels besides the option text itself (case is ignored)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "yes": ("是的", "是", "对"),
    "no": ("不是", "否", "不"),
    "maybe": ("可能", "也许", "不确定"),
}


def stated_answer(text: str, options: Sequence[OptionSpec]) -> str | None:
    """The key of the option the text concludes with, or None when it states none or several."""
    found = set(stated_answers(text, options))
    return found.pop() if len(found) == 1 else None


def stated_answers(text: str, options: Sequence[OptionSpec]) -> list[str]:
    """The option key of every answer statement in the text, in order."""
    found = []
    for lead in _LEAD.finditer(text):
        if _NOT_A_CONCLUSION.search(text[max(0, lead.start() - 20) : lead.start()]):
            continue
        start = _GAP.match(text, lead.end()).end()
        key = _option_at(text, start, options)
        if key is not None:
            found.append(key)
    return found


def _option_at(text: str, start: int, options: Sequence[OptionSpec]) -> str | None:
    """The option written at `start` ("C", "(C)", "C) maybe", "maybe", "可能"), or None."""
    rest = text[start:]
    bracketed = rest[:1] in "([（【"
    body = rest[1:] if bracketed else rest
    for option in options:
        if body.startswith(option.key) and _KEY_END.match(body, len(option.key)):
            after = body[len(option.key) :].lstrip(")]）】 ")
            # "C) yes" names two options: trust neither
            if any(_starts_with_word(after, o.text) for o in options if o.key != option.key):
                return None
            return option.key
    for option in options:
        words = (option.text, *SYNONYMS.get(option.text.lower(), ()))
        if any(_starts_with_word(body, word) for word in words):
            return option.key
    return None


def _starts_with_word(text: str, word: str) -> bool:
    if text[: len(word)].lower() != word.lower():
        return False
    if not word.isascii():  # Chinese writes no spaces between words
        return True
    return len(text) == len(word) or not (text[len(word)].isalnum() or text[len(word)] in "-_")
