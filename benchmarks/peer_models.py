"""The peers' side of ``peers.py``: the same networks written the fastest way for
snnTorch and for Norse, each in three execution modes.

Every peer model is: input -> LIF hidden with exponential synapses (tau_syn 5 ms,
tau_mem 20 ms; optional recurrent weights) -> leaky-integrator output, trained
by BPTT with a surrogate gradient on the cross-entropy of the time-averaged
output membrane, Adam (lr 1e-3). The data are dense (T, B, n_in) 0/1 tensors
made once (their conversion is not timed). What makes each loop fast:

* time-major input and ONE matmul for the input projection of all steps;
* ``unbind(0)`` over the steps (indexing ``x[:, t]`` instead makes autograd
  allocate a full-size zero gradient per step: O(T^2) memory traffic, the
  reason the earlier snnTorch loop ran at 3.4 samples/s on the SHD task);
* optional recurrent weights applied to the last step's spikes.

Modes (``torch.set_num_threads`` as numba's thread count):

* ``eager``: the loop above in plain PyTorch calls;
* ``step``: the per-step body (recurrent matmul, neuron updates, output
  projection) compiled with ``torch.compile``, the time loop in Python;
* ``model``: the whole forward pass, time loop included, compiled with
  ``torch.compile`` (dynamo unrolls the loop; compile time grows with T).

Compilation happens in a warm-up batch and is not timed; it is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

TAU_MEM, TAU_SYN = 20.0, 5.0


def dense_input(spikes: list, n_in: int, T: int, dt: float) -> np.ndarray:
    """(T, n, n_in) 0/1 float32: a spike at time t lands in the first step with
    step*dt >= t (SpikeInput's rule)."""
    out = np.zeros((T, len(spikes), n_in), np.float32)
    for k, ex in enumerate(spikes):
        ends = np.asarray(ex.end_spikes, np.int64)
        ids = np.repeat(np.arange(n_in), np.diff(np.concatenate(([0], ends))))
        steps = np.ceil(np.asarray(ex.spike_times, np.float64) / dt - 1e-6).astype(np.int64)
        ok = (steps >= 0) & (steps < T)
        out[steps[ok], k, ids[ok]] = 1.0
    return out


def _cells(lib: str, dt: float):
    """(hidden step, output step, initial states) for one library.

    hidden(cur, s) -> (z, s); output(cur, s) -> (v, s); init(B, n_hid, n_out) -> (s_h, s_o).
    """
    import torch

    if lib == "norse":
        from norse.torch import LICell, LIFCell, LIFParameters, LIParameters
        from norse.torch.functional.leaky_integrator import LIState
        from norse.torch.functional.lif import LIFFeedForwardState

        lif = LIFCell(LIFParameters(tau_syn_inv=torch.as_tensor(1.0 / TAU_SYN),
                                    tau_mem_inv=torch.as_tensor(1.0 / TAU_MEM),
                                    v_th=torch.as_tensor(1.0)), dt=dt)
        li = LICell(LIParameters(tau_syn_inv=torch.as_tensor(1.0 / TAU_SYN),
                                 tau_mem_inv=torch.as_tensor(1.0 / TAU_MEM)), dt=dt)

        def init(B: int, n_hid: int, n_out: int):
            z = torch.zeros
            return (LIFFeedForwardState(v=z(B, n_hid), i=z(B, n_hid)),
                    LIState(v=z(B, n_out), i=z(B, n_out)))

        return lif, li, init, [lif, li]
    import snntorch as snn
    from snntorch import surrogate

    a_syn = float(np.exp(-dt / TAU_SYN))
    b_mem = float(np.exp(-dt / TAU_MEM))
    hid = snn.Synaptic(alpha=a_syn, beta=b_mem, spike_grad=surrogate.fast_sigmoid(),
                       reset_mechanism="zero")
    out = snn.Synaptic(alpha=a_syn, beta=b_mem, reset_mechanism="none")

    def hidden(cur, s):
        z, syn, mem = hid(cur, s[0], s[1])
        return z, (syn, mem)

    def output(cur, s):
        _, syn, mem = out(cur, s[0], s[1])
        return mem, (syn, mem)

    def init(B: int, n_hid: int, n_out: int):
        z = torch.zeros
        return (z(B, n_hid), z(B, n_hid)), (z(B, n_out), z(B, n_out))

    return hidden, output, init, [hid, out]


def build_peer(lib: str, mode: str, n_in: int, n_hid: int, n_out: int, recurrent: bool,
               dt: float, w_in: float, seed: int = 0):
    """A torch module ``net(x (T, B, n_in)) -> logits (B, n_out)`` in one execution mode."""
    import torch

    torch.manual_seed(seed)
    # the per-step body is recompiled for the first step's state (no grad yet) and for
    # snnTorch's state buffers; let every variant compile instead of falling back
    for name in ("recompile_limit", "cache_size_limit"):
        if hasattr(torch._dynamo.config, name):
            setattr(torch._dynamo.config, name, 64)
    hidden, output, init, subs = _cells(lib, dt)

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = torch.nn.Linear(n_in, n_hid, bias=False)
            torch.nn.init.normal_(self.fc1.weight, w_in, w_in / 3)
            self.rec = torch.nn.Linear(n_hid, n_hid, bias=False) if recurrent else None
            self.fc2 = torch.nn.Linear(n_hid, n_out, bias=False)
            self.subs = torch.nn.ModuleList(subs)
            self.step = self._step

        def _step(self, cur, z, s_h, s_o):
            if self.rec is not None:
                cur = cur + self.rec(z)
            z, s_h = hidden(cur, s_h)
            v, s_o = output(self.fc2(z), s_o)
            return z, v, s_h, s_o

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            cur_in = self.fc1(x)  # all steps in one matmul
            s_h, s_o = init(x.shape[1], n_hid, n_out)
            z = torch.zeros(x.shape[1], n_hid)
            acc = torch.zeros(x.shape[1], n_out)
            for cur in cur_in.unbind(0):
                z, v, s_h, s_o = self.step(cur, z, s_h, s_o)
                acc = acc + v
            return acc / x.shape[0]

    net = Net()
    if mode == "step":
        net.step = torch.compile(net._step, dynamic=False)
    elif mode == "model":
        return net, torch.compile(net, dynamic=False)
    elif mode != "eager":
        raise ValueError(f"unknown mode {mode!r}")
    return net, net


def peer_runner(lib: str, mode: str, xs: list, ys: np.ndarray, n_in: int, n_hid: int,
                n_out: int, T: int, dt: float, batch: int, recurrent: bool, w_in: float,
                threads: int) -> tuple[Callable[[], int], float]:
    """(a callable training every example once in batches, compile seconds)."""
    import torch

    torch.set_num_threads(threads)
    params, net = build_peer(lib, mode, n_in, n_hid, n_out, recurrent, dt, w_in)
    opt = torch.optim.Adam(params.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    X = torch.from_numpy(dense_input(xs, n_in, T, dt))
    Y = torch.from_numpy(np.asarray(ys, np.int64))
    n = (len(Y) // batch) * batch

    def step(s: int) -> None:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(X[:, s:s + batch]), Y[s:s + batch])
        loss.backward()
        opt.step()

    t0 = time.perf_counter()
    step(0)  # warm-up (and compilation)
    compile_s = time.perf_counter() - t0

    def run() -> int:
        for s in range(0, n, batch):
            step(s)
        return n
    return run, compile_s
