"""CUDA backend: the state of one compiled network on the GPU and the kernel calls.

The same methods as ``CPUSimulator`` (what the compiled networks call), with the
state, weights, gradients and Adam moments resident on the device across
batches. The host keeps mirrors the rest of the library reads: readouts after
every trial, the summed gradient after every training batch and the weights and
moments after every optimiser step (a copy of the parameters per batch, small
next to a batch's kernels). Host writes (``set_weights``, a restored
checkpoint) reach the device through ``refresh_weights``.

SpikeInput lists are staged once (``InputStager``'s cache) and uploaded once per
staged list; a batch then uploads only its slots' event ranges.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numba import cuda

from .. import kernels as K
from ..cpu import Counters, EventPropDrive, Profiler, Recording, _dense_connections
from ..layout import (
    P_END,
    P_EVENTS,
    P_START,
    P_TYPE,
    POISSON_INPUT,
    RO_FIRST,
    SPIKE_INPUT,
    Layout,
)
from ..staging import InputStager
from . import kernels as CK
from .support import unsupported_features


def _csr(groups: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(ptr, flat) of a list of index lists."""
    ptr = np.zeros(len(groups) + 1, np.int64)
    for k, g in enumerate(groups):
        ptr[k + 1] = ptr[k] + len(g)
    flat = np.asarray([i for g in groups for i in g], np.int64)
    return ptr, flat if flat.size else np.zeros(1, np.int64)


def sparse_columns(lay: Layout, conn_dense: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each sparse connection's targets' incoming synapses (CSC) in the order the CPU
    engine adds them (presynaptic neuron, then position in its row): ``(cco, ptr, pre,
    syn)``, connection c's target j at column ``cco[c] + j``."""
    C = lay.conn_i.shape[0]
    cco = np.zeros(max(C, 1), np.int64)
    ptr_parts, pre_parts, syn_parts = [np.zeros(1, np.int64)], [], []
    base = 0
    for c, conn in enumerate(lay.connections):
        if conn_dense[c]:
            continue
        rpo, woff = int(lay.conn_i[c, 4]), int(lay.conn_i[c, 3])
        n_pre, n_post = conn.source.num_neurons, conn.target.num_neurons
        rp = lay.row_ptr[rpo:rpo + n_pre + 1]
        s = np.arange(int(rp[0]), int(rp[-1]), dtype=np.int64)
        pre = np.repeat(np.arange(n_pre, dtype=np.int64), np.diff(rp))
        post = lay.syn_post[woff + s].astype(np.int64)
        order = np.lexsort((s, pre, post))
        counts = np.bincount(post, minlength=n_post)
        cco[c] = base
        ptr_parts.append(ptr_parts[-1][-1] + np.cumsum(counts))
        pre_parts.append(pre[order])
        syn_parts.append(s[order])
        base += n_post
    csc_ptr = np.concatenate(ptr_parts).astype(np.int64)
    csc_pre = np.concatenate(pre_parts) if pre_parts else np.zeros(1, np.int64)
    csc_syn = np.concatenate(syn_parts) if syn_parts else np.zeros(1, np.int64)
    return cco, csc_ptr, csc_pre, csc_syn


def device_adam(opt: Any, param: Any, grad: Any, m_d: Any, v_d: Any, step: int,
                flags: Any) -> int:
    """One Adam step on device arrays (the CPU step's float32 operation order).

    Returns an ``optim`` status: BAD_PARAM or BAD_GRAD when ``param`` or ``grad``
    holds NaN/inf (nothing is changed), else BAD_RESULT when the step made a value
    non-finite, else OK. ``flags`` is a 3-entry device scratch array.
    """
    from .. import optim

    n = param.shape[0]
    CK.fill[CK.blocks(flags.size), CK.TPB](flags, flags.dtype.type(0))
    CK.check_finite[CK.blocks(n), CK.TPB](param, grad, flags)
    found = flags.copy_to_host()
    if found[0]:
        return optim.BAD_PARAM
    if found[1]:
        return optim.BAD_GRAD
    f = np.float32
    CK.adam_step[CK.blocks(n), CK.TPB](
        param, grad, m_d, v_d, f(opt.beta1), f(1.0 - opt.beta1), f(opt.beta2),
        f(1.0 - opt.beta2), f(opt.alpha), f(1.0 / (1.0 - opt.beta1 ** (step + 1))),
        f(1.0 / (1.0 - opt.beta2 ** (step + 1))), f(opt.epsilon), flags)
    return optim.BAD_RESULT if flags.copy_to_host()[2] else optim.OK


class CUDASimulator:
    """State and kernel calls for ``batch_size`` parallel trials of one network, on a GPU."""

    name = "cuda"
    #: carried from one trial into the next (pulled to these host mirrors for checkpoints)
    CARRIED_STATE = ("V", "A", "RF", "X", "carry")

    def __init__(self, layout: Layout, batch_size: int, dt: float, example_timesteps: int,
                 profiling: bool = False) -> None:
        problems = unsupported_features(layout)
        if problems:
            raise ValueError("backend='cuda' does not support " + "; ".join(problems)
                             + ". Use backend='cpu' for this network.")
        self.layout = lay = layout
        self.B = B = int(batch_size)
        self.dt = np.float32(dt)
        self.T = T = int(example_timesteps)
        self.profiler = Profiler(profiling)
        self.counters = Counters()
        N = max(lay.n_neurons, 1)
        P = lay.pop_i.shape[0]
        C = lay.conn_i.shape[0]
        # --- static structure ---------------------------------------------------------
        pop_of = np.zeros(N, np.int64)
        for p in range(P):
            pop_of[lay.pop_i[p, P_START]:lay.pop_i[p, P_END]] = p
        nwords = [(int(lay.pop_i[p, P_END] - lay.pop_i[p, P_START]) + 31) // 32
                  for p in range(P)]
        pw0 = np.zeros(P, np.int64)
        pw0[1:] = np.cumsum(nwords)[:-1] if P > 1 else pw0[1:]
        self.pw0 = pw0
        self.W = W = max(int(sum(nwords)), 1)
        self.pop_types = lay.pop_i[:, P_TYPE]
        inputs = [p for p in range(P) if lay.pop_i[p, P_TYPE] in (SPIKE_INPUT, POISSON_INPUT)]
        self.in_pops = np.asarray(inputs or [0], np.int64)
        self.n_in_pops = len(inputs)
        upd = [gi for p in range(P) if p not in inputs
               for gi in range(lay.pop_i[p, P_START], lay.pop_i[p, P_END])]
        self.n_updated = len(upd)
        self.upd_gid = np.asarray(upd or [0], np.int64)
        G = lay.grp_i.shape[0]
        grp_ptr, grp_list = _csr([[g for g in range(G) if lay.grp_i[g, 0] == p]
                                  for p in range(P)])
        gconn_ptr, gconn_list = _csr([[c for c in range(C) if lay.conn_i[c, 2] == g]
                                      for g in range(G)])
        out_ptr, out_list = _csr([[c for c in range(C) if lay.conn_i[c, 0] == p]
                                  for p in range(P)])
        self.conn_dense = _dense_connections(lay)
        cco, csc_ptr, csc_pre, csc_syn = sparse_columns(lay, self.conn_dense)
        self.lts = np.float32(1.0 / (float(self.dt) * T))
        self.inv_T = np.float32(1.0 / T)
        d = cuda.to_device
        self.d = {
            "pop_of": d(pop_of), "pop_i": d(lay.pop_i), "pop_f": d(lay.pop_f),
            "bias": d(lay.bias if lay.bias.size else np.zeros(1, np.float32)),
            "v_init": d(np.resize(lay.v_init, N).astype(np.float32)),
            "a_init": d(np.resize(lay.a_init, N).astype(np.float32)),
            "grp_ptr": d(grp_ptr), "grp_list": d(grp_list),
            "grp_i": d(lay.grp_i if G else np.zeros((1, 4), np.int64)),
            "grp_f": d(lay.grp_f if G else np.zeros((1, 2), np.float32)),
            "gconn_ptr": d(gconn_ptr), "gconn_list": d(gconn_list),
            "out_ptr": d(out_ptr), "out_list": d(out_list),
            "conn_i": d(lay.conn_i if C else np.zeros((1, 6), np.int64)),
            "conn_f": d(lay.conn_f if C else np.zeros((1, 1), np.float32)),
            "conn_dense": d(self.conn_dense if C else np.zeros(1, np.int8)),
            "row_ptr": d(lay.row_ptr if lay.row_ptr.size else np.zeros(1, np.int64)),
            "syn_post": d(lay.syn_post if lay.syn_post.size else np.zeros(1, np.int32)),
            "csc_ptr": d(csc_ptr), "csc_pre": d(csc_pre), "csc_syn": d(csc_syn),
            "cco": d(cco), "pw0": d(pw0), "upd_gid": d(self.upd_gid),
            "in_pops": d(self.in_pops),
        }
        self.weights_d = d(lay.weights if lay.weights.size else np.zeros(1, np.float32))
        # --- state (device) and host mirrors ----------------------------------------------
        n_slots = max(lay.n_slots, 1)
        self.V = np.zeros((B, N), np.float32)
        self.A = np.zeros((B, N), np.float32)
        self.RF = np.zeros((B, N), np.float32)
        self.X = np.zeros((B, n_slots), np.float32)
        self.carry = np.zeros((B, W), np.uint32)
        self.R = np.zeros((B, N), np.float32)
        self.R2 = np.zeros((B, N), np.float32)
        self.ev_ovf = np.full(B, -1, np.int64)
        self.s = {name: cuda.device_array(shape, dtype) for name, shape, dtype in (
            ("V", (B, N), np.float32), ("A", (B, N), np.float32), ("RF", (B, N), np.float32),
            ("X", (B, n_slots), np.float32), ("R", (B, N), np.float32),
            ("R2", (B, N), np.float32), ("nspk", (B, N), np.int32),
            ("raster", (B, T, W), np.uint32), ("carry", (B, W), np.uint32),
            ("ev_ovf", (B,), np.int32))}
        self._dummy_f3 = cuda.device_array((1, 1, 1), np.float32)
        self._dummy_u3 = cuda.device_array((1, 1, 1), np.uint32)
        self._no_rec = (d(np.zeros(N + 1, np.int64)), d(np.zeros(1, np.int64)),
                        d(np.zeros(1, np.int32)))
        self.stager = InputStager(self.dt, T, 1)
        self._uploaded: dict[int, tuple[Any, Any, Any]] = {}
        self.in_ptr = np.zeros((B, P), np.int64)
        self.in_hi = np.zeros((B, P), np.int64)
        self._most = 0
        self._ev = (d(np.zeros(1, np.int32)), d(np.zeros(1, np.int32)))
        # EventProp (allocated by enable_events / gradient_buffers / enable_output_history)
        self.tape_on = 0
        self.cap = 0
        self.tape = self._dummy_u3
        self.xmv = self._dummy_f3
        self.tape_row = d(np.full(N, -1, np.int64))
        self.out_hist_pop = -1
        self._out_hist_d = self._dummy_f3
        self._out_hist = np.zeros((1, 1, 1), np.float32)
        self.grad_host = np.zeros(1, np.float32)
        self.grad_d = None
        self.gsum_d = None
        self._no_counts = np.zeros(N, np.int64)
        self._moments: dict[int, tuple[Any, Any, Any]] = {}
        self._flags = cuda.device_array(3, np.int32)
        self._reset = 0
        self.reset_state()

    # ----- helpers -----------------------------------------------------------------------
    @staticmethod
    def _fill(arr: Any, value: Any) -> None:
        flat = arr.reshape(arr.size)
        CK.fill[CK.blocks(arr.size), CK.TPB](flat, flat.dtype.type(value))

    def _sync_state_to_host(self) -> None:
        for name in ("R", "R2"):
            self.s[name].copy_to_host(getattr(self, name))

    # ----- state -------------------------------------------------------------------------
    def reset_state(self) -> None:
        """Every state variable to its initial value (start of training/evaluation)."""
        self.reset_neurons()
        self.reset_in_syn()
        self._fill(self.s["carry"], 0)
        self._fill(self.s["nspk"], 0)
        self.reset_readouts()

    def reset_neurons(self) -> None:
        """V, adaptation and refractory time to their initial values."""
        lay = self.layout
        self.V[:] = lay.v_init if lay.n_neurons else 0
        self.A[:] = lay.a_init if lay.n_neurons else 0
        self.s["V"].copy_to_device(self.V)
        self.s["A"].copy_to_device(self.A)
        self._fill(self.s["RF"], 0)

    def begin_trial(self, reset_neurons: bool, reset_in_syn: bool) -> None:
        """Resets at the start of the next trial (done by its first step's kernel)."""
        self._reset = (1 if reset_neurons else 0) | 2
        if reset_in_syn:
            self.reset_in_syn()

    def reset_in_syn(self) -> None:
        """Zero synaptic input."""
        self._fill(self.s["X"], 0)

    def reset_readouts(self) -> None:
        """Zero readout accumulators (first-spike readouts start at -FLT_MAX)."""
        self.R[:] = 0
        self.R2[:] = 0
        lay = self.layout
        for p in range(lay.pop_i.shape[0]):
            if lay.pop_i[p, 6] == RO_FIRST:
                self.R[:, lay.pop_i[p, P_START]:lay.pop_i[p, P_END]] = -K.FLT_MAX
        self.s["R"].copy_to_device(self.R)
        self.s["R2"].copy_to_device(self.R2)

    def pull_carried(self) -> None:
        """Copy the state carried across trials to the host mirrors (checkpoints)."""
        for name in self.CARRIED_STATE:
            self.s[name].copy_to_host(getattr(self, name))

    def push_carried(self) -> None:
        """Copy host mirrors of the carried state (a restored checkpoint) to the device."""
        for name in self.CARRIED_STATE:
            self.s[name].copy_to_device(getattr(self, name))

    def readout(self, pop_name: str) -> np.ndarray:
        """Readout values (B, n) of an output population."""
        return self.R[:, self.layout.pop_slice(pop_name)].copy()

    def readout_aux(self, pop_name: str) -> np.ndarray:
        """Second readout variable (time of the maximum for max_var)."""
        return self.R2[:, self.layout.pop_slice(pop_name)].copy()

    @property
    def nspk(self) -> np.ndarray:
        """Spikes of every neuron in the last trial (B, N), copied from the device."""
        return self.s["nspk"].copy_to_host().astype(np.int32)

    @property
    def out_hist(self) -> np.ndarray:
        """V of the output population at every step of the last trial (B, T, n)."""
        return self._out_hist

    # ----- weights and gradients ---------------------------------------------------------
    def refresh_weights(self) -> None:
        """Push host writes (weights, restored optimiser moments) to the device."""
        if self.layout.weights.size:
            self.weights_d.copy_to_device(self.layout.weights)
        for t, m_d, v_d in self._moments.values():
            m_d.copy_to_device(np.ascontiguousarray(t.state["m"], np.float32).reshape(-1))
            v_d.copy_to_device(np.ascontiguousarray(t.state["v"], np.float32).reshape(-1))

    def gradient_buffers(self, delays: bool) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Allocate the per-slot gradient rows on the device and the host mirror of their
        sum; returns per connection a (1, synapses) view of the mirror (``gradient_views``)."""
        if delays:
            raise ValueError("backend='cuda' does not learn delays; use backend='cpu'")
        S = max(self.layout.weights.shape[0], 1)
        self.grad_host = np.zeros(S, np.float32)
        self.grad_d = cuda.to_device(np.zeros((self.B, S), np.float32))
        self.gsum_d = cuda.to_device(np.zeros(S, np.float32))
        return self.gradient_views()

    def gradient_views(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Per connection, its gradient as a (1, synapses) view of the host mirror."""
        lay = self.layout
        views = []
        for conn in lay.connections:
            sl = lay.conn_slice(conn.name)
            views.append(self.grad_host[sl].reshape(1, sl.stop - sl.start))
        return views, []

    def _gradients_to_host(self, n: int) -> None:
        S = self.gsum_d.shape[0]
        CK.reduce_grad[CK.blocks(S), CK.TPB](self.grad_d, self.gsum_d, n)
        self.gsum_d.copy_to_host(self.grad_host)

    def optimiser_step(self, t: Any, step: int) -> int:
        """Adam on trainable ``t`` on the device (its gradient is the device sum of the
        batch's slots); mirrors the new values and moments to the host. Returns an
        ``optim`` status like the CPU step."""
        from ...optimisers import Adam
        from .. import optim

        if t.kind != "weight" or not isinstance(t.optimiser, Adam):
            raise ValueError(f"backend='cuda' trains weights with Adam only, not the "
                             f"{t.kind}s of '{t.name}' with {t.optimiser!r}; use backend='cpu'")
        sl = self.layout.conn_slice(t.name)
        key = id(t)
        if key not in self._moments:
            self._moments[key] = (t, cuda.to_device(np.ascontiguousarray(t.state["m"]).reshape(-1)),
                                  cuda.to_device(np.ascontiguousarray(t.state["v"]).reshape(-1)))
        _, m_d, v_d = self._moments[key]
        param = self.weights_d[sl.start:sl.stop]
        grad = self.gsum_d[sl.start:sl.stop]
        status = device_adam(t.optimiser, param, grad, m_d, v_d, step, self._flags)
        if status in (optim.BAD_PARAM, optim.BAD_GRAD):
            return status
        param.copy_to_host(self.layout.weights[sl])
        m_d.copy_to_host(t.state["m"].reshape(-1))
        v_d.copy_to_host(t.state["v"].reshape(-1))
        self.grad_host[sl] = 0
        return status

    # ----- inputs ------------------------------------------------------------------------
    def set_inputs(self, inputs: dict[str, list], n_active: int) -> int:
        """Stage one batch (the first ``n_active`` examples of each input)."""
        return self.set_inputs_indexed(inputs, np.arange(n_active, dtype=np.int64), cache=False)

    def set_inputs_indexed(self, inputs: dict[str, Any], idx: np.ndarray,
                           cache: bool = True) -> int:
        """Stage examples ``idx`` of every input as one batch. A cached staged list is
        uploaded to the device once; a batch sends only its slots' event ranges.
        Returns the largest number of events of one example."""
        lay = self.layout
        idx = np.asarray(idx, dtype=np.int64)
        B = len(idx)
        self.in_ptr[:] = 0
        self.in_hi[:] = 0
        parts = []
        for name, examples in inputs.items():
            p = lay.pop_index[name]
            if lay.pop_i[p, P_TYPE] != SPIKE_INPUT or not B:
                continue
            n = int(lay.pop_i[p, P_END] - lay.pop_i[p, P_START])
            st = self.stager.staged(name, examples, n, idx, cache)
            local = idx if st.source is examples else np.arange(B, dtype=np.int64)
            parts.append((p, st, local))
        if not parts:
            self._most = 0
            return 0
        keys = tuple(id(st) for _, st, _ in parts)
        if keys not in self._uploaded:
            if len(self._uploaded) > 4:
                self._uploaded.clear()
            offs, steps, nids, at = [], [], [], 0
            for _, st, _ in parts:
                offs.append(at)
                m = int(st.off[-1])
                steps.append(st.steps[:m])
                nids.append(st.nids[:m])
                at += m
            ev_s = np.concatenate(steps + [np.zeros(1, np.int32)]).astype(np.int32)
            ev_n = np.concatenate(nids + [np.zeros(1, np.int32)]).astype(np.int32)
            self._uploaded[keys] = (offs, cuda.to_device(ev_s), cuda.to_device(ev_n),
                                    [st for _, st, _ in parts])
        offs, ev_s_d, ev_n_d, _ = self._uploaded[keys]
        most = 0
        for (p, st, local), base in zip(parts, offs, strict=True):
            self.in_ptr[:B, p] = base + st.off[local]
            self.in_hi[:B, p] = base + st.off[local + 1]
            c = st.counts(local)
            most = max(most, int(c.max()) if c.size else 0)
        self._ev = (ev_s_d, ev_n_d)
        self._most = most
        return most

    # ----- EventProp support -------------------------------------------------------------
    def enable_events(self, caps: dict[str, int], input_spikes: int) -> None:
        """Allocate the replay tape (spike bitmaps) and the per-spike (x - V) store of the
        LIF populations, ``caps`` spikes per neuron."""
        lay = self.layout
        rows = np.full(max(lay.n_neurons, 1), -1, np.int64)
        n = 0
        cap = 0
        for name, c in caps.items():
            p = lay.pop_index[name]
            cap = max(cap, int(c))
            if lay.pop_i[p, P_TYPE] != SPIKE_INPUT:
                s0, s1 = int(lay.pop_i[p, P_START]), int(lay.pop_i[p, P_END])
                rows[s0:s1] = np.arange(n, n + s1 - s0)
                n += s1 - s0
        if self.tape_on and cap == self.cap:
            return
        self.cap = cap
        self.tape_on = 1
        self.tape = cuda.device_array((self.B, self.T, self.W), np.uint32)
        self.xmv = cuda.device_array((self.B, max(n, 1), max(cap, 1)), np.float32)
        self.tape_row = cuda.to_device(rows)
        N = max(lay.n_neurons, 1)
        self.kcur = cuda.device_array((self.B, N), np.int32)
        self.LV = cuda.device_array((2, self.B, N), np.float32)
        self.LI = cuda.device_array((2, self.B, N), np.float32)

    def enable_output_history(self, pop_name: str) -> None:
        """Keep V of an output population for every step (per-timestep losses)."""
        p = self.layout.pop_index[pop_name]
        n = int(self.layout.pop_i[p, P_END] - self.layout.pop_i[p, P_START])
        self._out_hist = np.zeros((self.B, self.T, n), np.float32)
        self._out_hist_d = cuda.device_array((self.B, self.T, n), np.float32)
        self.out_hist_pop = p

    # ----- running -----------------------------------------------------------------------
    def _begin(self, B: int) -> None:
        """Per trial: clear the spike bitmaps and counts, set the input events' bits."""
        self._fill(self.s["raster"], 0)
        self._fill(self.s["nspk"], 0)
        self._fill(self.s["ev_ovf"], CK.NO_OVERFLOW)
        if self.tape_on:
            self._fill(self.tape, 0)
        if self.n_in_pops and self._most:
            n = B * self.n_in_pops * self._most
            CK.stage_inputs[CK.blocks(n), CK.TPB](
                self._ev[0], self._ev[1], cuda.to_device(self.in_ptr[:B]),
                cuda.to_device(self.in_hi[:B]), self.d["in_pops"][:self.n_in_pops],
                self.d["pop_i"], self.d["pw0"], self.s["raster"][:B], self.s["nspk"][:B],
                self.tape[:B] if self.tape_on else self.tape, self.tape_on, self._most)

    def _step(self, step: int, B: int, zero_step: int, reset: int, rstep: int,
              rec: tuple[Any, Any, Any, Any]) -> None:
        d, s = self.d, self.s
        n = B * self.n_updated
        if not n:
            return
        CK.forward_step[CK.blocks(n), CK.TPB](
            step, self.dt, zero_step, reset, rstep, self.inv_T, self.lts,
            d["upd_gid"][:self.n_updated], d["pop_of"], d["pop_i"], d["pop_f"], d["bias"],
            d["v_init"], d["a_init"], d["grp_ptr"], d["grp_list"], d["grp_i"], d["grp_f"],
            d["gconn_ptr"], d["gconn_list"], d["conn_i"], d["conn_dense"], d["row_ptr"],
            self.weights_d, d["csc_ptr"], d["csc_pre"], d["csc_syn"], d["cco"], d["pw0"],
            s["V"][:B], s["A"][:B], s["RF"][:B], s["X"][:B], s["R"][:B], s["R2"][:B],
            s["nspk"][:B], s["raster"][:B], s["carry"][:B],
            self.tape[:B] if self.tape_on else self.tape, self.tape_on, self.tape_row,
            self.xmv[:B] if self.tape_on else self.xmv, self.cap, s["ev_ovf"][:B],
            rec[0], rec[1], rec[2], rec[3],
            self._out_hist_d[:B] if self.out_hist_pop >= 0 else self._out_hist_d,
            self.out_hist_pop)

    def _end(self, B: int) -> None:
        """After a trial: keep its last step's spikes, mirror readouts and overflow flags."""
        CK.copy_last_step[CK.blocks(B * self.W), CK.TPB](
            self.s["raster"][:B], self.s["carry"][:B], self.T - 1)
        self._sync_state_to_host()
        ovf = self.s["ev_ovf"].copy_to_host()
        self.ev_ovf[:] = np.where(ovf == CK.NO_OVERFLOW, -1, ovf)
        if self.out_hist_pop >= 0:
            self._out_hist_d.copy_to_host(self._out_hist)

    def run_trial(self, n_active: int, zero_step: int = -1,
                  record_vars: list[tuple[str, str]] | None = None,
                  record_spikes: list[str] | None = None,
                  step_callback: object | None = None) -> Recording:
        """Simulate one trial of T steps for the first ``n_active`` batch slots."""
        lay = self.layout
        B = n_active
        rec = Recording()
        codes = {"v": K.REC_V, "a": K.REC_A, "refractime": K.REC_REFRAC,
                 "readout": K.REC_READOUT}
        per_gid: list[list[tuple[int, int]]] = [[] for _ in range(max(lay.n_neurons, 1))]
        host_vars = []  # input populations: V never changes during a trial
        k = 0
        for key in record_vars or []:
            pop, var = key
            sl = lay.pop_slice(pop)
            code = codes.get(var.lower())
            if code is None:
                raise ValueError(f"cannot record variable '{var}' of population '{pop}'; "
                                 f"recordable: {', '.join(codes)}")
            p = lay.pop_index[pop]
            for gi in range(sl.start, sl.stop):
                if lay.pop_i[p, P_TYPE] in (SPIKE_INPUT, POISSON_INPUT):
                    host_vars.append((k, gi, code))
                else:
                    per_gid[gi].append((k, code))
                k += 1
            rec.var_keys.append(key)
            rec.var_slices[key] = slice(k - (sl.stop - sl.start), k)
        if k:
            ptr = np.zeros(len(per_gid) + 1, np.int64)
            ptr[1:] = np.cumsum([len(x) for x in per_gid])
            flat = [e for x in per_gid for e in x] or [(0, 0)]
            rec_d = cuda.device_array((B, self.T, k), np.float32)
            self._fill(rec_d, 0)
            recs = (cuda.to_device(ptr), cuda.to_device(np.asarray([e[0] for e in flat])),
                    cuda.to_device(np.asarray([e[1] for e in flat], np.int32)), rec_d)
        else:
            recs = (*self._no_rec, self._dummy_f3)
        reset, self._reset = self._reset, 0
        t0 = time.perf_counter()
        if host_vars:
            self.s["V"].copy_to_host(self.V)
        self._begin(B)
        for step in range(self.T):
            if step_callback is not None:
                step_callback.on_timestep_begin(step)
            self._step(step, B, zero_step, reset, step, recs)
            if step_callback is not None:
                cuda.synchronize()
                step_callback.on_timestep_end(step)
        self._end(B)
        if k:
            rec.values = recs[3].copy_to_host()
            for kk, gi, code in host_vars:
                src = {K.REC_V: self.V, K.REC_READOUT: self.R}.get(code)
                rec.values[:, :, kk] = src[:B, gi][:, None] if src is not None else 0.0
        if record_spikes:
            raster = self.s["raster"][:B].copy_to_host()
            bits = np.unpackbits(raster.view(np.uint8), axis=-1, bitorder="little")
            steps_l, ids_l = [], []
            for b in range(B):
                ss, ii = [], []
                for name in record_spikes:
                    p = lay.pop_index[name]
                    s0, s1 = int(lay.pop_i[p, P_START]), int(lay.pop_i[p, P_END])
                    w0 = int(self.pw0[p]) * 32
                    st, nn = np.nonzero(bits[b, :, w0:w0 + s1 - s0])
                    ss.append(st)
                    ii.append(nn + s0)
                    if b == 0:
                        rec.spike_pops.append(name)
                st = np.concatenate(ss).astype(np.int32)
                gid = np.concatenate(ii).astype(np.int32)
                order = np.lexsort((gid, st))
                steps_l.append(st[order])
                ids_l.append(gid[order])
            rec.spike_steps, rec.spike_ids = steps_l, ids_l
        self.profiler.add("forward", t0)
        cnt = self.counters
        cnt.forward_s += time.perf_counter() - t0
        cnt.trials += B
        cnt.neuron_updates += B * self.T * self.n_updated
        return rec

    def _backward_arrays(self, bk_i: np.ndarray, conn_train: np.ndarray) -> None:
        """Per-(bk_i, conn_train) index arrays of the adjoint kernels, built once."""
        key = (bk_i.tobytes(), conn_train.tobytes())
        if getattr(self, "_bk_key", None) == key:
            return
        lay = self.layout
        P = lay.pop_i.shape[0]
        gids = [gi for p in range(P) if bk_i[p, K.BI_ROLE] != K.BK_NONE
                for gi in range(lay.pop_i[p, P_START], lay.pop_i[p, P_END])]
        cols_c, cols_j = [], []
        for c, conn in enumerate(lay.connections):
            pre = int(lay.conn_i[c, 0])
            if conn_train[c] and lay.pop_i[pre, P_EVENTS]:
                cols_c.extend([c] * conn.target.num_neurons)
                cols_j.extend(range(conn.target.num_neurons))
        self._bk_key = key
        self.n_bwd = len(gids)
        self.bwd_gid = cuda.to_device(np.asarray(gids or [0], np.int64))
        self.n_gcol = len(cols_c)
        self.gcol_conn = cuda.to_device(np.asarray(cols_c or [0], np.int64))
        self.gcol_j = cuda.to_device(np.asarray(cols_j or [0], np.int64))
        self.bk_i_d = cuda.to_device(bk_i)

    def _adjoint(self, B: int, bk_i: np.ndarray, bk_f: np.ndarray, conn_train: np.ndarray,
                 labels: np.ndarray, drive: EventPropDrive, from_readout: bool,
                 spike_count_batch: np.ndarray, record_lambdas: list[str] | None
                 ) -> np.ndarray | None:
        """Loss terms (from the readouts, or given) and the adjoint pass of B slots."""
        if not self.tape_on:
            raise RuntimeError("enable_events must be called before the backward pass")
        if self.grad_d is None:
            self.gradient_buffers(False)
        lay = self.layout
        self._backward_arrays(bk_i, conn_train)
        d = self.d
        td = drive.val.shape[1]
        labels_d = cuda.to_device(np.ascontiguousarray(labels[:B], np.int64))
        dv = cuda.to_device(np.ascontiguousarray(drive.val[:B]))
        dstep = cuda.to_device(np.ascontiguousarray(drive.step[:B]))
        tfirst = cuda.to_device(np.ascontiguousarray(drive.tfirst[:B]))
        tsum = cuda.to_device(np.ascontiguousarray(drive.tsum[:B]))
        ttrue = cuda.to_device(np.ascontiguousarray(drive.ttrue[:B]))
        xent = cuda.to_device(np.ascontiguousarray(drive.xent[:B]))
        if from_readout:
            CK.drive_slots[CK.blocks(B), CK.TPB](
                drive.out_p, d["pop_i"], self.bk_i_d, self.s["R"][:B], self.s["R2"][:B],
                labels_d, self.dt, drive.t_ms, dv, dstep, tfirst, tsum, ttrue, xent)
        gids = []
        for name in record_lambdas or []:
            sl = lay.pop_slice(name)
            gids.extend(range(sl.start, sl.stop))
        slot = np.full(max(lay.n_neurons, 1), -1, np.int64)
        slot[gids] = np.arange(len(gids))
        brec = cuda.device_array((B, self.T, 2 * len(gids)) if gids else (1, 1, 1), np.float32)
        bk_f_d = cuda.to_device(bk_f)
        counts_d = cuda.to_device(np.ascontiguousarray(spike_count_batch, np.int64))
        slot_d = cuda.to_device(slot)
        nb = B * self.n_bwd
        CK.backward_init[CK.blocks(nb), CK.TPB](self.bwd_gid, d["pop_of"], d["pop_i"],
                                               self.s["nspk"][:B], self.cap, self.kcur[:B],
                                               self.LV[:, :B], self.LI[:, :B])
        ng = B * self.n_gcol
        grad = self.grad_d[:B]
        tape = self.tape[:B]
        for it in range(self.T):
            m = self.T - 1 - it
            cur = it % 2
            if ng and m < self.T - 1:
                CK.backward_synapses[CK.blocks(ng), CK.TPB](
                    m, cur, self.gcol_conn, self.gcol_j, d["pop_i"], d["conn_i"], d["conn_f"],
                    d["conn_dense"], d["row_ptr"], d["csc_ptr"], d["csc_pre"], d["csc_syn"],
                    d["cco"], d["pw0"], tape, self.LI[:, :B], grad)
            CK.backward_neurons[CK.blocks(nb), CK.TPB](
                it, m, self.T, self.dt, cur, self.bwd_gid, d["pop_of"], d["pop_i"],
                self.bk_i_d, bk_f_d, d["out_ptr"], d["out_list"], d["conn_i"],
                d["conn_dense"], d["row_ptr"], d["syn_post"], self.weights_d, d["pw0"], tape,
                self.tape_row, self.xmv[:B], self.kcur[:B], labels_d, dv, dstep, tfirst,
                tsum, ttrue, counts_d, self.LV[:, :B], self.LI[:, :B], slot_d, brec)
        self._gradients_to_host(B)
        if from_readout:
            xent.copy_to_host(drive.xent[:B])
            if td == 1:
                drive.val[:B] = dv.copy_to_host()
        return brec.copy_to_host() if gids else None

    def backward(self, n_active: int, bk_i: np.ndarray, bk_f: np.ndarray,
                 conn_train: np.ndarray, conn_dtrain: np.ndarray, labels: np.ndarray,
                 drive: EventPropDrive, spike_count_batch: np.ndarray,
                 record_lambdas: list[str] | None = None) -> np.ndarray | None:
        """EventProp backward pass of the last trial: adds the batch's weight gradients
        (summed on the device, mirrored to ``gradient_views``); returns the lambda
        recording, if any was asked for."""
        from .. import eventprop_kernels as EK

        if conn_dtrain.any():
            raise ValueError("backend='cuda' does not learn delays; use backend='cpu'")
        t0 = time.perf_counter()
        out = self._adjoint(n_active, bk_i, bk_f, conn_train, labels, drive,
                            drive.mode == EK.DRIVE_FROM_READOUT, spike_count_batch,
                            record_lambdas)
        self.profiler.add("backward", t0)
        self.counters.backward_s += time.perf_counter() - t0
        return out

    def train_trial(self, n_active: int, zero_step: int, bk_i: np.ndarray, bk_f: np.ndarray,
                    conn_train: np.ndarray, conn_dtrain: np.ndarray, labels: np.ndarray,
                    drive: EventPropDrive) -> None:
        """One EventProp training trial (forward, loss terms, backward) of the first
        ``n_active`` slots, all on the device."""
        if conn_dtrain.any():
            raise ValueError("backend='cuda' does not learn delays; use backend='cpu'")
        B = n_active
        reset, self._reset = self._reset, 0
        t0 = time.perf_counter()
        recs = (*self._no_rec, self._dummy_f3)
        self._begin(B)
        for step in range(self.T):
            self._step(step, B, zero_step, reset, 0, recs)
        self._end(B)
        self._adjoint(B, bk_i, bk_f, conn_train, labels, drive, True, self._no_counts, None)
        elapsed = time.perf_counter() - t0
        self.profiler.add("train_trial", t0)
        cnt = self.counters
        cnt.trial_s += elapsed
        cnt.trials += B
        cnt.neuron_updates += B * self.T * self.n_updated


__all__ = ["CUDASimulator"]
