"""Multiple-choice questions in the layouts their sources publish, parsed into one `MCQuestion`.

Every source spells the same thing differently: MedQA keeps options in a dict and the answer as a letter and a
text, MedMCQA has four option columns and a 1-based (GitHub release) or 0-based (Hub release) answer index,
CMExam packs the options into one "A xxx\\nB xxx" string, MMLU ships header-less CSV rows and a Hub layout with an
answer index. The parsers here turn each into the same dataclass, so the stage-1 exam reader, the stage-2/3
instruction adapters and the knowledge-point rewriter only ever see one shape.

The modules, lowest first: `question` (MCQuestion and the errors), `fields` (reading a row's fields),
`answer_keys` and `options` (an answer and the options as written -> keys), `layouts` (how a file writes its
options and answer), one parser per source (`medqa`, `medmcqa`, `cmexam`, `mmlu`, and `mapped` for a source
described by its field names), and `layout_detection` (a file's layout from its first rows). This package
re-exports what the readers and adapters use.
"""

from corpusforge.formats.multiple_choice.cmexam import parse_cmexam
from corpusforge.formats.multiple_choice.layout_detection import ExamFormat, detect_layout
from corpusforge.formats.multiple_choice.layouts import AUTO, LayoutMismatch, MCLayout
from corpusforge.formats.multiple_choice.mapped import FieldMap, parse_mapped
from corpusforge.formats.multiple_choice.medmcqa import detect_cop_base, medmcqa_layout_fields, parse_medmcqa
from corpusforge.formats.multiple_choice.medqa import parse_medqa
from corpusforge.formats.multiple_choice.mmlu import MMLU_SUBJECTS, parse_mmlu_csv, parse_mmlu_hub, subject_name
from corpusforge.formats.multiple_choice.question import (
    MalformedQuestion,
    MCQuestion,
    MissingField,
    MultiAnswerQuestion,
)

__all__ = [
    "AUTO",
    "ExamFormat",
    "FieldMap",
    "LayoutMismatch",
    "MCLayout",
    "MCQuestion",
    "MalformedQuestion",
    "MissingField",
    "MultiAnswerQuestion",
    "detect_cop_base",
    "detect_layout",
    "medmcqa_layout_fields",
    "parse_cmexam",
    "parse_mapped",
    "parse_medmcqa",
    "parse_medqa",
    "parse_mmlu_csv",
    "parse_mmlu_hub",
    "subject_name",
    "MMLU_SUBJECTS",
]
