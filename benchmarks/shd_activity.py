"""Hidden activity and our rate on the SHD-shaped task as training goes on, with and
without mlGeNN's SHD spike-count regulariser.

Our EventProp cost follows the hidden spikes; the BPTT peers' cost does not. On the
synthetic task (random labels) the unregularised hidden activity keeps growing, so
a ratio to the peers depends on how many passes were trained before it was measured.
This prints, for each configuration in its own process, the hidden spikes per
example and samples/s at chosen passes (passes of 64 examples, B = 32).

    python benchmarks/shd_activity.py                     # passes up to 160, ~4 min
    python benchmarks/shd_activity.py --passes 1 10 40
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONFIGS = {"as defined": "eventprop", "mlGeNN's regulariser": "eventprop_reg"}


def measure(fw: str, at: list[int]) -> dict[int, tuple[float, float]]:
    """{pass: (hidden spikes per example, samples/s of that pass)} of one configuration."""
    sys.path.insert(0, str(HERE.parent))
    sys.path.insert(0, str(HERE))
    import tasks as T

    task = T.make_task("shd")
    run, cn, _ = T.studio_runner(task, fw, 64)
    hidden = cn.layout.pop_slice(cn.layout.populations[1].name)
    out = {}
    for p in range(1, max(at) + 1):
        t0 = time.perf_counter()
        n = run()
        w = time.perf_counter() - t0
        if p in at:
            spikes = float(cn.sim.nspk[:task.batch, hidden].sum(axis=1).mean())
            out[p] = (spikes, n / w)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--passes", type=int, nargs="+", default=[1, 5, 10, 20, 40, 80, 120, 160])
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    at = sorted(set(args.passes))
    if args.worker:
        print(json.dumps(measure(args.worker, at)))
        return
    print(f"load at start {'/'.join(f'{v:.1f}' for v in os.getloadavg())}")
    rows = {}
    for name, fw in CONFIGS.items():
        cmd = [sys.executable, __file__, "--worker", fw, "--passes", *map(str, at)]
        res = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                        text=True).stdout.strip().splitlines()[-1])
        rows[name] = {int(k): v for k, v in res.items()}
    print("| pass | " + " | ".join(map(str, at)) + " |")
    print("|---" * (len(at) + 1) + "|")
    for name, res in rows.items():
        print(f"| hidden spikes per example, {name} | "
              + " | ".join(f"{res[p][0]:,.0f}" for p in at) + " |")
        print(f"| samples/s, {name} | " + " | ".join(
            "(compile)" if p == 1 else f"{res[p][1]:,.0f}" for p in at) + " |")
    print(f"load at end {'/'.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
