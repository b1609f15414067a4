"""export.json names files where they are after export.partial/ is renamed to export/."""

from pathlib import Path

from train.export import relocate_paths


def test_paths_under_the_partial_folder_move_to_the_final_one():
    partial, final = Path("/runs/a/export.partial"), Path("/runs/a/export")
    info = {"merged": True, "adapter": "/runs/a/export.partial/adapter", "base": "/models/base", "note": "x"}
    assert relocate_paths(info, partial, final) == {
        "merged": True, "adapter": "/runs/a/export/adapter", "base": "/models/base", "note": "x"
    }  # fmt: skip
    # a sibling whose name merely starts the same is not under it
    assert relocate_paths({"p": "/runs/a/export.partial2/x"}, partial, final) == {"p": "/runs/a/export.partial2/x"}
