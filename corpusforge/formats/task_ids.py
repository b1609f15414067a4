"""Task names and their integer ids.

Stage 3 trains one adapter set per task (Polytropon-style routing needs `task_ids` in the forward pass), so every
instruction record carries an integer `task_id`. Ids come from a task table: `{task name: id}`.

Resolution, first match wins (decided when the reader builds the record, so a record is schema-valid as soon as
it exists):
1. the reader's own `task_id` parameter (pins every record of that source);
2. the recipe's task table (the build passes it in `BuildContext.extra["task_ids"]`); when a recipe has a table,
   only that table is used, so its ids never collide with built-in ones;
3. otherwise the built-in `DEFAULT_TASK_IDS` below.
A name such as `promptcblue/CMeEE` falls back to its family `promptcblue` when the exact name is not in a table,
so one entry covers all PromptCBLUE sub-tasks unless a recipe lists them one by one.

The default ids follow the paper's stage-3 order (Table 8: PubMedQA, MedMCQA, MedQA) so that the three stage-3
tasks are 0, 1, 2 without any recipe configuration.
"""

from __future__ import annotations

from collections.abc import Mapping

DEFAULT_TASK_IDS: dict[str, int] = {
    "pubmedqa": 0,
    "medmcqa": 1,
    "medqa": 2,
    "mmlu": 3,
    "cmexam": 4,
    "promptcblue": 5,
    "free_qa": 6,
    "huatuo": 7,
    "dialogue": 8,
}


class UnknownTask(KeyError):
    """A task name that no table knows."""


def task_family(task: str) -> str:
    """`promptcblue/CMeEE` -> `promptcblue`."""
    return task.split("/", 1)[0]


def resolve_task_id(task: str, table: Mapping[str, int] | None = None, pinned: int | None = None) -> int:
    """The id of `task` by the rules in the module docstring; UnknownTask when nothing matches."""
    if pinned is not None:
        return pinned
    candidates = DEFAULT_TASK_IDS if table is None else table
    for name in (task, task_family(task)):
        if name in candidates:
            return int(candidates[name])
    where = "the recipe's task table" if table is not None else "the built-in task ids"
    raise UnknownTask(
        f"task {task!r} is not in {where} {dict(candidates)}: add it there or set `task_id` on the source"
    )
