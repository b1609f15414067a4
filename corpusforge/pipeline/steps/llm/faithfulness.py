"""Checks that a rewrite says what its input says, and only that: the failures real small models show.

SmolLM2-135M-Instruct, asked to rewrite a knowledge-graph draft, echoed the prompt back and then invented a
"2012 report" about a drug that was not in the subgraph, or wrote "I made the following changes... Added an
apostrophe..." followed by the raw triples (about 7x the draft). None of that names an entity less, so the
entity check alone accepted it. Each function here returns the reason a text fails (a short snake_case name,
counted by the step and retried) or None.

"Not in the input" is judged on words that carry facts: numbers (a year, a dose, a percentage), and words that
look like names (capitalized inside a sentence, acronyms, words with digits, drug and disease suffixes). A rewrite
may rephrase freely with ordinary words; it may not bring a number or a name the model was not given. Chinese text
is checked for numbers only (names there are not marked by case).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

# "I made the following changes", "Here is the rewritten paragraph", "Sure!", "Added an apostrophe", 以下是改写后的...
_COMMENTARY = re.compile(
    r"\bI(?:'ve| have)?\s+(?:made|rewrote|rewritten|revised|added|changed|removed|corrected|improved|replaced|"
    r"kept|included|rephrased|combined)\b"
    r"|\bhere(?:'s| is| are)\s+(?:the|a|an|your|my)\b[^.\n]{0,40}\b(?:rewrit\w*|revis\w*|paragraph|version|"
    r"knowledge points?|text|summary)"
    r"|\b(?:changes|revisions|improvements)\s+(?:made|I made|include)\b|\bthe following changes\b"
    r"|^\s*(?:sure|certainly|of course|okay|ok)\b[,!.:]"
    r"|\b(?:the|this|your) (?:draft|original (?:text|paragraph|draft|question)|prompt)\b"
    r"|\brewritten (?:paragraph|text|version|question)\b"
    r"|^\s*[-*\d.]*\s*(?:added|removed|changed|replaced|corrected|rephrased)\s+(?:a|an|the)\b"
    r"|以下是|改写(?:后|如下|为)|修改(?:如下|后)|我(?:对|将|把|已)|草稿|原文",
    re.IGNORECASE | re.MULTILINE,
)
_TABLE_ROW = re.compile(r"^[ \t]*[-*]?[ \t]*[^|\n]+\|[^|\n]+\|[^|\n]+$", re.MULTILINE)  # "- head | relation | tail"
_NUMBER = re.compile(r"(?<![A-Za-z\d.,])\d+(?:[.,]\d+)*")  # not the 1 of HbA1c (a name)
_PLAIN_WORD = re.compile(r"[^\W_]+")  # letters and digits, any script
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[。！？])|\n+")
_LIST_MARKER = re.compile(r"^\s*(?:\d+[.)、]|[-*•])\s+", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]*[A-Za-z0-9]|[A-Za-z]")
# drug and disease name endings (metformin is caught by case only when capitalized; these catch lowercase names)
_NAME_ENDINGS = (
    "mab", "nib", "pril", "sartan", "olol", "statin", "azole", "cillin", "mycin", "cycline", "floxacin", "dipine",
    "azepam", "oxetine", "triptan", "parin", "prazole", "tidine", "gliptin", "gliflozin", "itis", "emia", "aemia", "oma", "pathy", "algia",
    "ectomy", "plasia", "trophy", "osis",
)  # fmt: skip
_NOT_NAMES = {"diagnosis", "prognosis", "diagnoses", "prognoses", "aroma", "coma", "stoma", "i"}


def normalize(text: str) -> str:
    """Case-folded NFKC text with whitespace runs collapsed (entity and answer matching)."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True)
class Given:
    """What the model was given: the facts (input text), the prompt's own instruction lines, and the draft's size."""

    facts: str
    instructions: tuple[str, ...] = ()
    reference_chars: int = 0
    draft: str = ""  # the text to improve, when there is one (kg.rewrite): copying it back is no rewrite

    @staticmethod
    def from_prompt(prompt: str, facts: str, data: list[str], reference_chars: int, draft: str = "") -> Given:
        """Instruction lines: the prompt's lines (20+ characters) that carry none of the input data."""
        data_norm = [normalize(d) for d in data if d and d.strip()]
        lines = []
        for line in prompt.splitlines():
            norm = normalize(line)
            if len(norm) >= 20 and not any(d in norm for d in data_norm):
                lines.append(norm)
        return Given(facts, tuple(lines), reference_chars, draft)


def prompt_echo(text: str, given: Given) -> bool:
    """The answer repeats an instruction line of the prompt (its first 50 characters), or the facts' table rows."""
    norm = normalize(text)
    return any(line[:50] in norm for line in given.instructions) or bool(_TABLE_ROW.search(text))


def copied_draft(text: str, draft: str, share: float = 0.9) -> bool:
    """The draft written back (nearly) unchanged, whatever was tacked on: 90% of its words, each sentence's in the
    same order (sentences may be swapped), and those words half of the answer or more. SmolLM2 swapped an "and",
    turned "—" into "–", swapped the draft's two sentences and appended "This is a medical textbook.", and called
    it a rewrite; punctuation is not a word here."""
    answer = _plain_words(text)
    sentences = [words for words in map(_plain_words, _SENTENCE_END.split(draft)) if words]
    total = sum(map(len, sentences))
    if not answer or not total:
        return False
    matched = sum(
        block.size
        for sentence in sentences
        for block in SequenceMatcher(None, answer, sentence, autojunk=False).get_matching_blocks()
    )
    return matched >= share * total and matched >= 0.5 * len(answer)


def _plain_words(text: str) -> list[str]:
    """The normalized words of `text`: dashes and punctuation are separators, not words."""
    return _PLAIN_WORD.findall(normalize(text))


def commentary(text: str) -> bool:
    """The answer talks about the rewrite ("I made the following changes", "Here is the rewritten...")."""
    return bool(_COMMENTARY.search(text))


def length_off(text: str, reference_chars: int, ratio: float = 3.0, slack: int = 400) -> str | None:
    """`too_long` beyond ratio x the reference (and at least `slack` more), `too_short` under 1/ratio of it."""
    if reference_chars <= 0:
        return None
    n = len(text.strip())
    if n > max(ratio * reference_chars, reference_chars + slack):
        return "too_long"
    if n < reference_chars / ratio:
        return "too_short"
    return None


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(_LIST_MARKER.sub(" ", text))}


def unsupported_numbers(text: str, facts: str) -> list[str]:
    """Numbers in the answer that the input does not contain (list markers "1." do not count)."""
    given = numbers(facts)
    return sorted(n for n in numbers(text) if n not in given)


def _stem(word: str) -> str:
    word = word.casefold().replace("’", "'")
    word = re.sub(r"'s$", "", word)
    for ending in ("ies", "es", "s"):
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)] + ("y" if ending == "ies" else "")
    return word


def _starts_sentence(text: str, at: int) -> bool:
    """Whether the word at `at` opens the text, a sentence, a line or a list item."""
    before = text[max(0, at - 12) : at]
    if at == 0:
        return True
    stripped = before.rstrip(" \t\"'“‘([*-•")
    return not stripped or stripped[-1] in ".!?:;。！？：；\n" or bool(re.search(r"(?:^|\s)\d+[.)]$", stripped))


def name_like_words(text: str) -> list[str]:
    """Words that look like names: capitalized inside a sentence, acronyms, with digits, drug/disease endings."""
    found = []
    for match in _WORD.finditer(text):
        word = match.group()
        lower = word.casefold()
        if lower in _NOT_NAMES or len(word) < 2:
            continue
        inside = not _starts_sentence(text, match.start())
        if (
            (word[0].isupper() and inside)
            or (word.isupper() and len(word) >= 2)
            or any(c.isdigit() for c in word)
            or (lower.endswith(_NAME_ENDINGS) and len(lower) >= 6)
        ):
            found.append(word)
    return found


def unsupported_names(text: str, facts: str) -> list[str]:
    """Name-like words of the answer whose stem is not a word of the input (case, plurals and 's ignored)."""
    given = {_stem(w) for w in _WORD.findall(facts)}
    return sorted({w for w in name_like_words(text) if _stem(w) not in given})


def form_problem(text: str, given: Given, check_length: bool = True) -> str | None:
    """What is wrong with the answer's form: the prompt echoed, talk about the rewrite, a length far off."""
    if prompt_echo(text, given):
        return "prompt_echo"
    if given.draft and copied_draft(text, given.draft):
        return "copied_draft"
    if commentary(text):
        return "commentary"
    if check_length:
        return length_off(text, given.reference_chars)
    return None


def unsupported(text: str, facts: str) -> str | None:
    """`unsupported_number` / `unsupported_entity` when the answer brings a number or a name not in `facts`."""
    if unsupported_numbers(text, facts):
        return "unsupported_number"
    if unsupported_names(text, facts):
        return "unsupported_entity"
    return None
