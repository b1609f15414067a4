"""Stage-2/3 instruction data: source adapters, prompt templates, mixing, eval-set decontamination, PQA-L split.

Importing this package registers the adapters (`instruct.*` readers) and steps (`mix.*`, `decontam.eval_sets`,
`filter.label_quality`) so recipes can name them.
"""

from corpusforge.instruct import eval_sets as _eval_sets  # noqa: F401
from corpusforge.instruct import steps as _steps  # noqa: F401
from corpusforge.instruct.adapters import free_qa as _free_qa  # noqa: F401
from corpusforge.instruct.adapters import multiple_choice as _multiple_choice  # noqa: F401
from corpusforge.instruct.adapters import promptcblue as _promptcblue  # noqa: F401
from corpusforge.instruct.adapters import pseudo_labels as _pseudo_labels  # noqa: F401
from corpusforge.instruct.adapters import pubmedqa as _pubmedqa  # noqa: F401
