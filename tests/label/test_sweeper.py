"""The run sweeper ends what the run started, never what the calling process had started before it."""

from __future__ import annotations

import subprocess
import sys
import time

from corpusforge.label.output_lock import RunGuard


def test_an_in_process_run_leaves_the_callers_other_children_alone(tmp_path):
    # what a test runner (or a notebook) started before the run: a server, a browser...
    before = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with RunGuard(tmp_path / "out"):
            during = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            time.sleep(1.0)  # the sweeper looks at the tree every 0.5 s
        # the run's own child was ended on exit (a clean exit sweeps what is left), the earlier one was not
        assert during.wait(timeout=10) is not None
        assert before.poll() is None
    finally:
        before.kill()
        before.wait()
