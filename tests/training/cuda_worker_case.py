"""The Train path end to end on the cuda backend: the worker (``app.worker.process._run``,
what the window's Train button starts) trains a tiny e-prop project with
``backend="cuda"`` and with ``backend="cpu"``; prints a JSON summary of both runs.

Run by ``test_cuda_backend.py`` in a subprocess with NUMBA_ENABLE_CUDASIM=1.
"""

from __future__ import annotations

import json
import threading

import numpy as np

from app.project.examples import load_example
from app.worker.process import Control, _run
from app.worker.protocol import WorkerSpec


def tiny_project() -> dict:
    """Yin-Yang (4 inputs, dt 1 ms, 30 steps), 8 recurrent LIF, 3 LI outputs (sum_var,
    cross-entropy), e-prop with batch 2 over 4 examples: two optimiser steps."""
    d = load_example("pattern_eprop").to_dict()
    d["populations"][0].update(size=4, params={})
    d["populations"][1]["size"] = 8
    d["populations"][2].update(readout="sum_var")
    d["connections"][0]["weight"] = {"type": "Normal", "mean": 1.0, "sd": 0.3}
    d["compiler"]["params"].update(example_timesteps=30, batch_size=2, c_reg=0.001)
    d["compiler"]["loss"] = {"type": "sparse_categorical_crossentropy"}
    d["dataset"] = {"source": "builtin", "name": "yin_yang", "format": "", "path": "",
                    "test_path": "", "input": None, "output": None,
                    "params": {"dt": 1.0, "num_train": 4, "num_validation": 2, "num_test": 2,
                               "seed": 1}}
    d["training"].update(num_epochs=1, max_examples=4)
    return d


def main() -> None:
    d = tiny_project()
    runs = {}
    for backend in ("cpu", "cuda"):
        msgs: list[dict] = []
        spec = WorkerSpec(project_json=json.dumps(d), backend=backend)
        _run(spec, msgs.append, Control(threading.Event(), None, msgs.append))
        runs[backend] = msgs
    cpu, gpu = runs["cpu"], runs["cuda"]
    fin_c, fin_g = cpu[-1], gpu[-1]
    out = {"kinds_cpu": [m["kind"] for m in cpu], "kinds_cuda": [m["kind"] for m in gpu],
           "finished": fin_g.get("kind") == "finished", "error": str(gpu[-1])[:2000]
           if fin_g.get("kind") != "finished" else ""}
    if out["finished"] and fin_c.get("kind") == "finished":
        out["losses_cpu"] = [m["loss"] for m in cpu if m["kind"] == "batch_metrics"]
        out["losses_cuda"] = [m["loss"] for m in gpu if m["kind"] == "batch_metrics"]
        out["weights_rel"] = max(
            float(np.abs(fin_g["weights"][k] - w).max() / max(np.abs(w).max(), 1e-30))
            for k, w in fin_c["weights"].items())
        hid = [m for m in gpu if m["kind"] == "raster" and m["population"] == "hidden"]
        out["hidden_spikes"] = int(sum(len(m["times"]) for m in hid))
        out["rasters_equal"] = all(
            np.array_equal(a["times"], b["times"]) and np.array_equal(a["ids"], b["ids"])
            for a, b in zip([m for m in cpu if m["kind"] == "raster"],
                            [m for m in gpu if m["kind"] == "raster"], strict=True))
    print("CUDA_WORKER_JSON " + json.dumps(out))


if __name__ == "__main__":
    main()
