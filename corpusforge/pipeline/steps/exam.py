"""Exam questions rewritten into knowledge points (AntGLM-Med 3.3: "convert it into medical knowledge points").

A pre-training model cannot consume the multiple-choice format directly, so each question becomes the declarative
statement of the fact it tests: "Which of the following is the first-line drug for type 2 diabetes? ... Answer:
Metformin" -> "The first-line drug for type 2 diabetes is Metformin." This is a rule-based rewrite, not a model:
ordered patterns on the question's stem pick a jinja template (templates/knowledge_points/rules.yaml, English and
Chinese), a fallback states the question and its answer, and the explanation follows when the source has one.
Which rule fired is recorded per document (`knowledge_point_rule`) and counted (`rule_<name>`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import yaml
from datatrove.data import DocumentsPipeline
from datatrove.pipeline.base import PipelineStep

from corpusforge.errors import ConfigError
from corpusforge.formats.multiple_choice.question import MalformedQuestion, MCQuestion
from corpusforge.pipeline.registry import register

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates" / "knowledge_points"
Language = Literal["en", "zh"]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_EN_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_EN_INNER_QUESTION = re.compile(r"(?<=\S)\s+(?=(?:Which|What|How|Where|When|Why|Who)\b[^.?!]*\?\s*$)")
_TRAILING_PUNCT = re.compile(r"[\s.。,，;；:：!！?？]+$")
# "Before surgery, which of the following..." -> lead "Before surgery" + the question proper
_EN_LEAD = re.compile(r"^(?P<lead>[^?]{3,120}?),\s+(?=(?:which|what)\b)", re.IGNORECASE)
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")
_ZH_LEADING = re.compile(r"^(?:下列|以下|下述)(?:各项中|选项中|各项|中)?[，,]?")


def detect_language(text: str) -> Language:
    """zh when CJK characters make up a fifth or more of the letters, else en."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return "en"
    return "zh" if sum(1 for c in letters if _CJK.match(c)) / len(letters) >= 0.2 else "en"


def split_stem(question: str, language: Language) -> tuple[str, str]:
    """(vignette, stem): the case description and the last sentence that asks the question."""
    question = " ".join(question.split()) if language == "en" else question.strip()
    if language == "en" and question.endswith(('?"', "?”")):  # a question copied with its closing quote
        question = question[:-1]
    if language == "zh":
        body = question.rstrip("。 ")
        cut = max(body.rfind("。"), body.rfind("！"), body.rfind("\n"))
        return (body[: cut + 1].strip(), body[cut + 1 :].strip()) if cut >= 0 else ("", body)
    sentences = _EN_SENTENCE_END.split(question)
    vignette, stem = " ".join(sentences[:-1]).strip(), sentences[-1].strip()
    # a lab table run into the question with no full stop: "... Ca2+: 10.2 mg/dL Which of the following is ...?"
    if (inner := _EN_INNER_QUESTION.search(stem)) and inner.start() > 0:
        vignette, stem = f"{vignette} {stem[: inner.start()]}".strip(), stem[inner.start() :].strip()
    return vignette, stem


def _bare(text: Any) -> str:
    return _TRAILING_PUNCT.sub("", str(text or "").strip())


# an ordinary lower-case first word ("metformin", "x-ray", "beta-blocker") may be capitalised to start a sentence;
# a term with its own casing or digits ("pH 7.36", "gp120", "c-erbB1", "mRNA", "p53") may not
_ORDINARY_WORD = re.compile(r"^[a-z]+(?:['’\-][a-z]+)*(?=[\s,.;:!?)]|$)")
# "(AIIMS May 2019)", ":March 2009", ": September 2005, 2010 March 2007" at the end of a stem: where it was asked
_EXAM_TAG = re.compile(
    r"\s*(?:\((?=[^()]*\b(?:19|20)\d\d\b)[^()]{0,60}\)"
    r"|:\s*(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?:19|20)\d\d\b.*)\s*$",
    re.IGNORECASE,
)
_DOUBLED_PUNCT = [
    (re.compile(r"(?<!\.)\.\s*\.(?!\.)"), "."),  # "muscles.." (an ellipsis "..." stays)
    (re.compile(r"([?!])\s*\."), "."),  # "to detect ?." -> "to detect."
    (re.compile(r"[,;:]\s*\."), "."),
    (re.compile(r"\s*:\s*:"), ":"),
    (re.compile(r"([。！？])\s*[。.]"), r"\1"),
    (re.compile(r"[，；：,;:]\s*。"), "。"),
]


def _capfirst(text: Any) -> str:
    """Capitalise the first letter only when the first word is an ordinary lower-case word (see _ORDINARY_WORD)."""
    text = str(text or "")
    return text[:1].upper() + text[1:] if _ORDINARY_WORD.match(text) else text


# "Pterion is Is a point ...", "located in In vertebral canal": the stem's last word repeated by the option
_DOUBLED_WORD = re.compile(r"\b(is|are|was|were|in|on|at|for|by|of|to|with|from|into|as|the|a|an)\s+(?i:\1)\b", re.I)


def tidy_punctuation(text: str) -> str:
    """No doubled punctuation where a stem's or an option's own full stop meets the template's, and no function
    word said twice where the stem ends and the option begins with it."""
    for pattern, repl in _DOUBLED_PUNCT:
        text = pattern.sub(repl, text)
    return _DOUBLED_WORD.sub(r"\1", text)


def strip_exam_tag(stem: str) -> str:
    """A stem without the exam it was taken from: "Drug of choice is:March 2009" -> "Drug of choice is:"."""
    cut = _EXAM_TAG.sub("", stem)
    return cut if cut.strip() else stem


_LEADING_ARTICLE = re.compile(r"^(A|An|The)(?= [a-z0-9])")


def _inline(text: Any) -> str:
    """An answer set inside a sentence: bare, and a leading article in lower case ("show A drop" -> "show a drop");
    the answer's other words keep their casing (Crohn disease, HER2, pH 7.36)."""
    return _LEADING_ARTICLE.sub(lambda m: m.group(1).lower(), _bare(text))


def _join_list(items: list[str], language: Language) -> str:
    items = [_bare(i) for i in items]
    if language == "zh":
        return "、".join(items)
    if len(items) <= 2:
        return " and ".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


@dataclass(frozen=True)
class Rule:
    name: str
    language: Language
    template: str
    pattern: re.Pattern | None = None


def load_rules(path: Path) -> list[Rule]:
    """Rules from a YAML file (see templates/knowledge_points/rules.yaml); errors name the file and rule."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: cannot read knowledge-point rules ({e})") from None
    rules = []
    for i, entry in enumerate((data or {}).get("rules") or []):
        where = f"{path}: rules.{i}"
        try:
            pattern = re.compile(entry["pattern"], re.IGNORECASE) if entry.get("pattern") else None
            rule = Rule(entry["name"], entry["language"], entry["template"], pattern)
        except (KeyError, TypeError) as e:
            raise ConfigError(f"{where}: needs name, language and template ({e})") from None
        except re.error as e:
            raise ConfigError(f"{where}.pattern: invalid regular expression ({e})") from None
        if rule.language not in ("en", "zh"):
            raise ConfigError(f"{where}.language: must be en or zh, got {rule.language!r}")
        rules.append(rule)
    for language in ("en", "zh"):
        if not any(r.language == language and r.pattern is None for r in rules):
            raise ConfigError(f"{path}: no fallback rule (one without a pattern) for language {language!r}")
    return rules


class KnowledgePointWriter:
    """Turns an MCQuestion into its knowledge-point text with the first matching rule's template."""

    def __init__(self, rules_path: Path | None = None, include_explanation: bool = True):
        self.rules_path = Path(rules_path) if rules_path else TEMPLATES_DIR / "rules.yaml"
        self.rules = load_rules(self.rules_path)
        self.include_explanation = include_explanation

    @cached_property
    def env(self):
        import jinja2

        folders = [str(self.rules_path.parent), str(TEMPLATES_DIR)]
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(folders),
            undefined=jinja2.StrictUndefined,
            autoescape=False,
            trim_blocks=True,
        )
        env.filters["join_list"] = jinja2.pass_context(lambda ctx, items: _join_list(items, ctx["language"]))
        env.filters["bare"] = _bare
        env.filters["capfirst"] = _capfirst
        env.filters["inline"] = _inline
        env.filters["replace_prefix"] = lambda text: _ZH_LEADING.sub("", str(text))
        return env

    def rewrite(self, mc: MCQuestion, language: Language) -> tuple[str, str]:
        """(knowledge-point text, name of the rule that fired)."""
        vignette, stem = split_stem(mc.question, language)
        stem = strip_exam_tag(stem)
        lead, question = "", stem
        if language == "en" and (found := _EN_LEAD.match(stem)):
            lead, question = found.group("lead"), stem[found.end() :]
        for rule in self.rules:
            if rule.language != language:
                continue
            if rule.pattern is None:  # the fallback states the whole stem
                return self.compose(
                    self.render(rule, mc, language, stem, {}), vignette, "", language, mc.explanation
                ), rule.name
            match = rule.pattern.match(question)
            if match:
                body = self.render(rule, mc, language, question, match.groupdict())
                return self.compose(body, vignette, lead, language, mc.explanation), rule.name
        raise AssertionError("unreachable: load_rules guarantees a fallback per language")

    def render(self, rule: Rule, mc: MCQuestion, language: Language, stem: str, groups: dict) -> str:
        """The rule's template filled in: the statement of the fact, without the case description."""
        values = {
            "stem": stem,
            "answer": mc.answer_text,
            "answer_key": mc.answer,
            "options": mc.options,
            "others": [t for k, t in mc.options if k != mc.answer],
            "explanation": mc.explanation,
            "context": mc.context,
            "language": language,
            **{k: v or "" for k, v in groups.items()},
        }
        rendered = self.env.get_template(rule.template).render(values)
        # English words joined by single spaces, Chinese lines joined without any
        if language == "en":
            return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(rendered.split()))
        return "".join(rendered.split("\n")).strip()

    def compose(self, body: str, vignette: str, lead: str, language: Language, explanation: str | None) -> str:
        """Case description, then the statement (after the stem's leading clause), then the explanation."""
        if language == "en":
            statement = f"{_capfirst(lead)}, {body}" if lead else _capfirst(body)
            statement = f"{vignette} {statement}" if vignette else statement
        else:
            statement = f"{vignette}{body}"
        statement = tidy_punctuation(statement)
        if self.include_explanation and explanation and explanation.strip():
            return f"{statement}\n{explanation.strip()}"
        return statement


@register("exam.knowledge_points")
class ExamKnowledgePoints(PipelineStep):
    """Rewrite exam questions (documents from read.exam) into declarative knowledge points; never drops."""

    type = "✍️ - REWRITE"

    # language auto: Chinese when CJK characters make up a fifth of the question's letters; rules: a rules YAML of
    # your own (same layout as templates/knowledge_points/rules.yaml), whose templates are looked up next to it
    # first, then among the built-in ones
    def __init__(
        self,
        language: Literal["auto", "en", "zh"] = "auto",
        include_explanation: bool = True,
        rules: str | None = None,
    ):
        super().__init__()
        self.language = language
        self.writer = KnowledgePointWriter(Path(rules) if rules else None, include_explanation)

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        for doc in data:
            with self.track_time():
                record = doc.metadata.get("mc")
                if not isinstance(record, dict):
                    self.stat_update("unchanged_no_mc")  # not an exam document: passed on as it is
                    yield doc
                    continue
                try:
                    mc = MCQuestion.from_record(record)
                except MalformedQuestion:
                    self.stat_update("unchanged_bad_mc")
                    yield doc
                    continue
                language = self.language if self.language != "auto" else detect_language(mc.question)
                doc.text, rule = self.writer.rewrite(mc, language)
                doc.metadata["knowledge_point_rule"] = rule
                doc.metadata.setdefault("transforms", []).append(self.name)
                self.stat_update(f"rule_{rule}")
            yield doc
