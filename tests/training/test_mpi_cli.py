"""``spike-studio train --mpi N``: the mpirun line, and a 2-rank run printing the
same numbers as one process (needs OpenMPI + mpi4py; fails, never skips, without)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import mpirun_command

ROOT = Path(__file__).resolve().parents[2]


def test_mpirun_command_adds_the_flags_a_small_or_root_machine_needs(monkeypatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    cmd = mpirun_command(4, ["train", "p.ssproj", "--distributed"], mpirun="/x/mpirun")
    assert cmd[:3] == ["/x/mpirun", "-n", "4"]
    assert "--oversubscribe" in cmd and "--allow-run-as-root" in cmd
    assert cmd[cmd.index("--bind-to") + 1] == "none"
    assert cmd[-6:] == [sys.executable, "-m", "app", "train", "p.ssproj", "--distributed"]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    cmd = mpirun_command(2, ["train"], mpirun="/x/mpirun")
    assert "--oversubscribe" in cmd  # OpenMPI counts physical cores, not CPUs
    assert "--allow-run-as-root" not in cmd and "--bind-to" not in cmd
    assert cmd[-4:] == [sys.executable, "-m", "app", "train"]


def _train(project: Path, *extra: str) -> list[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "app", "train", str(project),
                           "--epochs", "1", "--limit", "64", *extra],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # mpirun forwards the ranks' output with terminal reset codes (ESC[0m) that can land
    # at the start of a line
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout)
    return [ln for ln in out.splitlines() if ln.startswith(("epoch", "test"))]


def test_train_mpi_2_prints_the_metrics_of_one_process(tmp_path: Path) -> None:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.fail("needs mpi4py: pip install -e '.[mpi]' (and apt-get install -y "
                    "openmpi-bin libopenmpi-dev)")
    if shutil.which("mpirun") is None:
        pytest.fail("needs mpirun: apt-get install -y openmpi-bin libopenmpi-dev")
    from app.project.examples import load_example
    from app.project.io import save_project

    # each rank shuffles its own share of the data (as mlGeNN's ranks do), so only an
    # unshuffled run sees the examples in the same batches as one process
    project = load_example("yin_yang_eventprop")
    project.training.shuffle = False
    path = save_project(project, tmp_path / "yy.ssproj")
    one = _train(path)
    two = _train(path, "--mpi", "2")
    assert len(one) == 2 and len(two) == 2  # rank 1 prints nothing
    assert one[0].split("(")[0] == two[0].split("(")[0]  # same accuracy and loss
    assert one[1] == two[1]
