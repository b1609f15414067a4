"""Which checkpoint a rerun resumes from. DeepSpeed truncates `checkpoints/latest` and then writes it; a SIGKILL of
`corpusforge train` in between (tests/train/test_lifecycle.py hit it on a loaded machine) left it empty, and the
rerun died inside DeepSpeed's load ("assert len(self.ckpt_list) > 0"): an empty tag named the checkpoints folder
itself. The loop's own marker, `checkpoints/complete`, is replaced atomically after every rank has saved."""

from __future__ import annotations

from train.checkpointing import COMPLETE, checkpoint_root, latest_tag, mark_complete


def folders(run, *steps: int):
    root = checkpoint_root(run)
    for step in steps:
        (root / f"step-{step}").mkdir(parents=True)
    return root


def test_an_empty_latest_names_nothing_and_the_complete_marker_decides(tmp_path):
    root = folders(tmp_path, 4, 6)
    (root / "latest").write_text("")  # killed while DeepSpeed wrote it
    assert latest_tag(tmp_path) is None
    mark_complete(root, "step-6")
    assert latest_tag(tmp_path) == "step-6"
    assert sorted(p.name for p in root.iterdir() if p.is_file()) == [COMPLETE, "latest"]  # no partial file left


def test_the_marker_wins_over_a_latest_written_before_the_save_finished_on_every_rank(tmp_path):
    root = folders(tmp_path, 4, 6)
    mark_complete(root, "step-4")
    (root / "latest").write_text("step-6")  # rank 0 wrote it; the kill came before the barrier and the marker
    assert latest_tag(tmp_path) == "step-4"


def test_checkpoints_of_older_runs_resume_from_latest(tmp_path):
    root = folders(tmp_path, 2)
    assert latest_tag(tmp_path) is None
    (root / "latest").write_text("step-2\n")
    assert latest_tag(tmp_path) == "step-2"
    (root / "latest").write_text("step-9")  # a folder that is gone
    assert latest_tag(tmp_path) is None
