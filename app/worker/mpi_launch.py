"""Starting data-parallel training under MPI: the ``mpirun`` command line.

Shared by the command line (``spike-studio train --mpi N``) and the editor's
MPI runs, below both so neither imports the other.
"""
from __future__ import annotations

import os
import shutil
import sys


def mpirun_command(num_ranks: int, argv: list[str], mpirun: str | None = None) -> list[str]:
    """``mpirun -n N python -m app ARGV`` on this machine: ``--oversubscribe`` (OpenMPI
    counts physical cores as slots and refuses more ranks than those otherwise),
    ``--bind-to none`` when N exceeds the cores, ``--allow-run-as-root`` as root."""
    exe = mpirun or shutil.which("mpirun")
    if exe is None:
        raise FileNotFoundError("--mpi needs mpirun (Debian/Ubuntu: apt-get install "
                                "openmpi-bin libopenmpi-dev) and pip install "
                                "'spike-studio[mpi]'")
    cmd = [exe, "-n", str(num_ranks), "--oversubscribe"]
    if num_ranks > (os.cpu_count() or 1):
        cmd += ["--bind-to", "none"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-run-as-root")
    return cmd + [sys.executable, "-m", "app", *argv]
