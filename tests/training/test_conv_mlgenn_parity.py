"""Convolution/pooling connectivity and integrate-and-fire neurons against the real
mlGeNN (GeNN's single-threaded CPU backend): the same network, weights and inputs
built with both libraries (the API is the same apart from the imports), compared
voltage by voltage, spike by spike and, for EventProp, gradient by gradient.

mlGeNN picks a different GeNN connectivity per compiler: InferenceCompiler uses
SPARSE synapses for every convolution, EventPropCompiler TOEPLITZ (stride-1
Conv2D and AvgPoolConv2D, one shared kernel) and DENSE (AvgPoolDense2D). Its
AvgPool2D/Conv2DTranspose/AvgPoolConv2D sparse snippets do not build on
pygenn 5.4 as shipped (their row-length callbacks return floats);
``_int_sized_snippets`` re-registers them with integer sizes, keeping mlGeNN's
row-building code. On the CPU backend mlGeNN's EventProp cannot build
procedural connectivity (strided Conv2D, Conv2DTranspose) or AvgPool2D, so those
are compared through InferenceCompiler only.
"""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("ml_genn")
pytest.importorskip("pygenn")

T = 30


def _lib(which: str) -> SimpleNamespace:
    """The modules of one library under the same names."""
    if which == "ours":
        names = {"root": "app.model", "compilers": "app.training.compilers",
                 "callbacks": "app.training.callbacks", "data": "app.training.data",
                 "optimisers": "app.training.optimisers",
                 "ep": "app.training.compilers.eventprop"}
    else:
        _int_sized_snippets()
        names = {"root": "ml_genn", "compilers": "ml_genn.compilers",
                 "callbacks": "ml_genn.callbacks", "data": "ml_genn.utils.data",
                 "optimisers": "ml_genn.optimisers",
                 "ep": "ml_genn.compilers.event_prop_compiler"}
    m = {k: importlib.import_module(v) for k, v in names.items()}
    root = m["root"]
    return SimpleNamespace(
        which=which, root=root, C=importlib.import_module(names["root"] + ".connectivity"),
        N=importlib.import_module(names["root"] + ".neurons"),
        S=importlib.import_module(names["root"] + ".synapses"), CO=m["compilers"],
        CB=m["callbacks"], D=m["data"], O=m["optimisers"], default_params=m["ep"].default_params)


def _int_sized_snippets() -> None:
    """Rebuild mlGeNN's custom sparse snippets so that their size callbacks return ints."""
    from pygenn import create_sparse_connect_init_snippet

    for name in ("avg_pool_2d", "avg_pool_conv_2d", "conv_2d_transpose"):
        mod = importlib.import_module(f"ml_genn.connectivity.{name}")
        if getattr(mod, "_spike_studio_int_sizes", False):
            continue
        old = mod.genn_snippet
        # pygenn returns its own wrapper; mlGeNN's function is the one it closes over
        rows = old.get_calc_max_row_length_func().__closure__[0].cell_contents
        kernel = old.get_calc_kernel_size_func()
        extra = {}
        if kernel is not None:
            kfun = kernel.__closure__[0].cell_contents
            extra["calc_kernel_size_func"] = lambda p, f=kfun: [int(v) for v in f(p)]
        mod.genn_snippet = create_sparse_connect_init_snippet(
            f"{name}_int_sizes", params=[(p.name, "int") for p in old.get_params()],
            calc_max_row_len_func=lambda a, b, p, f=rows: int(f(a, b, p)),
            row_build_code=old.get_row_build_code(), **extra)
        mod._spike_studio_int_sizes = True


def _weights(kc: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)

    def k(*shape: int, mean: float = 1.0, sd: float = 1.0) -> np.ndarray:
        return rng.normal(mean, sd, shape).astype(np.float32)

    return {"c1": k(kc, kc, 2, 3, mean=1.5), "t1": k(2, 2, 2, 3, mean=2.0),
            "pc": k(3, 3, 2, 2, mean=3.0), "pd": k(27, 3, mean=0.5),
            "o1": k(18, 3, mean=0.3, sd=0.5),
            "ec1": k(3, 3, 2, 3, mean=2.0), "epc": k(3, 3, 3, 2, mean=3.0)}


def _inputs(lib: SimpleNamespace, t_max: float) -> list:
    rng = np.random.default_rng(2)
    return [lib.D.preprocess_spikes(rng.uniform(0, t_max, 80), rng.integers(0, 72, 80), 72)
            for _ in range(2)]


def _inference_network(lib: SimpleNamespace, w: dict, kc: int) -> tuple:
    """Every convolution/pooling type in one chain (one sparse Conv2D only: GeNN 5.4
    cannot merge two sparse Conv2D groups with different kernel sizes)."""
    M, C, N, S = lib.root, lib.C, lib.N, lib.S
    net = M.Network(lib.default_params)
    with net:
        inp = M.Population(N.SpikeInput(max_spikes=1000), (6, 6, 2), name="inp")

        def lif(th: float, name: str) -> object:
            return M.Population(N.LeakyIntegrateFire(v_thresh=th, tau_refrac=None), None,
                                record_spikes=True, name=name)

        h1, pl, tr, apc = lif(1.0, "h1"), lif(0.05, "pl"), lif(0.3, "tr"), lif(0.3, "apc")
        out = M.Population(N.LeakyIntegrate(readout="avg_var"), 3, name="out")
        M.Connection(inp, h1, C.Conv2D(w["c1"], 3, kc, conv_padding="same"),
                     S.Exponential(5.0), name="c1")
        M.Connection(h1, pl, C.AvgPool2D(2), S.Exponential(5.0), name="p1")
        M.Connection(pl, tr, C.Conv2DTranspose(w["t1"], 2, 2, conv_strides=2),
                     S.Exponential(5.0), name="t1")
        M.Connection(tr, apc, C.AvgPoolConv2D(w["pc"], 2, 2, 3, flatten=True,
                                              conv_padding="same"), S.Exponential(5.0),
                     name="pc")
        # created in name order: GeNN sums merged inputs in that order
        M.Connection(apc, out, C.Dense(w["o1"]), S.Exponential(5.0), name="o1")
        M.Connection(h1, out, C.AvgPoolDense2D(w["pd"], 2), S.Exponential(5.0), name="pd")
    return net, inp, [h1, pl, tr, apc], out


def _eventprop_network(lib: SimpleNamespace, w: dict) -> tuple:
    M, C, N, S = lib.root, lib.C, lib.N, lib.S
    net = M.Network(lib.default_params)
    with net:
        inp = M.Population(N.SpikeInput(max_spikes=1000), (6, 6, 2), name="inp")
        h1 = M.Population(N.LeakyIntegrateFire(tau_refrac=None), None, record_spikes=True,
                          name="h1")
        apc = M.Population(N.LeakyIntegrateFire(tau_refrac=None), None, record_spikes=True,
                           name="apc")
        out = M.Population(N.LeakyIntegrate(readout="avg_var"), 3, name="out")
        M.Connection(inp, h1, C.Conv2D(w["ec1"], 3, 3, conv_padding="same"),
                     S.Exponential(5.0), name="c1")
        M.Connection(h1, apc, C.AvgPoolConv2D(w["epc"], 2, 2, 3, flatten=True,
                                              conv_padding="same"), S.Exponential(5.0),
                     name="pc")
        M.Connection(apc, out, C.Dense(w["o1"]), S.Exponential(5.0), name="o1")
        M.Connection(h1, out, C.AvgPoolDense2D(w["pd"], 2), S.Exponential(5.0), name="pd")
    return net, inp, [h1, apc], out


def _recorders(lib: SimpleNamespace, hidden: list, out: object) -> list:
    return ([lib.CB.VarRecorder(p, "v", key=f"V_{p.name}") for p in hidden + [out]]
            + [lib.CB.SpikeRecorder(p, key=f"S_{p.name}") for p in hidden])


def _spikes(data: dict, name: str, example: int) -> list[tuple[float, int]]:
    """(time, id) pairs of one example, sorted (GeNN lists a step's spikes in another
    order)."""
    t, i = data[f"S_{name}"][0][example], data[f"S_{name}"][1][example]
    return sorted(zip(np.asarray(t).tolist(), np.asarray(i).tolist(), strict=True))


def _gradient_grabber(base: type, grads: dict) -> object:
    """An mlGeNN callback reading sample 0's gradients: mlGeNN runs a batch's backward
    pass inside the next batch, so they are complete at the end of batch 1, before
    its optimiser step."""

    class GrabGradients(base):
        def set_params(self, compiled_network, **kwargs):
            self.cn = compiled_network

        def on_batch_begin(self, batch):
            self.batch = batch

        def on_timestep_end(self, timestep):
            if self.batch == 1 and timestep == T - 1:
                for conn, pop in self.cn.connection_populations.items():
                    pop.vars["Gradient"].pull_from_device()
                    grads[conn.name] = pop.vars["Gradient"].view.copy()

    return GrabGradients()


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """GeNN writes its generated code into the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("kc", [3, 2])
def test_inference_forward_matches_mlgenn(in_tmp, kc):
    """Conv2D ("same", odd and even kernels), AvgPool2D, Conv2DTranspose (stride 2),
    AvgPoolConv2D and AvgPoolDense2D: hidden voltages bit-identical, the same spikes."""
    data, shapes = {}, {}
    for which in ("ours", "mlgenn"):
        lib = _lib(which)
        net, inp, hidden, out = _inference_network(lib, _weights(kc), kc)
        shapes[which] = [tuple(int(s) for s in p.shape) for p in hidden]
        comp = lib.CO.InferenceCompiler(evaluate_timesteps=T, batch_size=1,
                                        reset_in_syn_between_batches=True)
        cn = comp.compile(net) if which == "ours" else comp.compile(net, f"inf{kc}")
        with cn:
            _, data[which] = cn.evaluate({inp: _inputs(lib, T - 2)}, {out: np.array([0, 2])},
                                         callbacks=_recorders(lib, hidden, out))
    assert shapes["ours"] == shapes["mlgenn"] == [(6, 6, 3), (3, 3, 3), (6, 6, 2), (18,)]
    ours, ref = data["ours"], data["mlgenn"]
    for name in ("h1", "pl", "tr", "apc"):
        np.testing.assert_array_equal(np.stack(ours[f"V_{name}"]), np.stack(ref[f"V_{name}"]),
                                      err_msg=name)
    # two connections feed 'out': GeNN scales and adds their inputs one by one, we add
    # them before scaling, so the last bits may differ
    v_ref = np.stack(ref["V_out"])
    np.testing.assert_allclose(np.stack(ours["V_out"]), v_ref, rtol=0,
                               atol=1e-6 * np.abs(v_ref).max())
    for name in ("h1", "pl", "tr", "apc"):
        for ex in range(2):
            spikes = _spikes(ours, name, ex)
            assert spikes == _spikes(ref, name, ex), name
            assert len(spikes) > 20, f"{name} barely spikes: the comparison would be weak"


def test_eventprop_forward_and_kernel_gradients_match_mlgenn(in_tmp):
    """mlGeNN trains stride-1 Conv2D and AvgPoolConv2D as one shared (Toeplitz) kernel:
    our kernel gradients (per-synapse gradients summed onto the kernel) match its
    ``Gradient`` variable; forward voltages match to float32 rounding (Toeplitz sums
    a post-synaptic neuron's inputs in another order)."""
    w = _weights(3)
    # inputs end early so that no neuron spikes in the last step: mlGeNN's backward
    # pass never replays such a spike, and then skips every earlier spike of that
    # neuron as well (a defect of mlGeNN that this test steers around)
    results = {}
    for which in ("ours", "mlgenn"):
        lib = _lib(which)
        net, inp, hidden, out = _eventprop_network(lib, w)
        comp = lib.CO.EventPropCompiler(example_timesteps=T,
                                        losses="sparse_categorical_crossentropy",
                                        optimiser=lib.O.Adam(0.0), batch_size=1)
        x, y = _inputs(lib, 10.0), np.array([0, 2])
        grads: dict[str, np.ndarray] = {}
        recs = _recorders(lib, hidden, out)
        if which == "ours":
            from app.training.callbacks import CallbackList

            cn = comp.compile(net)
            with cn:
                cbl = CallbackList(recs, compiled_network=cn, num_batches=1, num_epochs=1)
                cn._train_batch({"inp": x}, {"out": y}, np.array([0]), cbl, [0])
                grads = {t.name: t.gradient() for t in cn.trainables}
                data = cbl.get_data()
                kinds = {c: "kernel" for c in cn.layout.kernels}
        else:
            grab = _gradient_grabber(lib.CB.Callback, grads)
            cn = comp.compile(net, "epconv")
            with cn:
                _, data = cn.train({inp: x}, {out: y}, num_epochs=1, shuffle=False,
                                   callbacks=recs + [grab])
                kinds = {c.name: "kernel" for c, pop in cn.connection_populations.items()
                         if "TOEPLITZ" in str(pop.matrix_type)}
        results[which] = (data, grads, kinds)
    (ours, g_ours, k_ours), (ref, g_ref, k_ref) = results["ours"], results["mlgenn"]
    assert set(k_ours) == set(k_ref) == {"c1", "pc"}
    for name in ("h1", "apc", "out"):
        v_ours, v_ref = np.stack(ours[f"V_{name}"])[0], np.stack(ref[f"V_{name}"])[0]
        np.testing.assert_allclose(v_ours, v_ref, rtol=0, atol=2e-6 * np.abs(v_ref).max(),
                                   err_msg=name)
    for name in ("h1", "apc"):
        spikes = _spikes(ours, name, 0)
        assert spikes == _spikes(ref, name, 0), name
        assert max(t for t, _ in spikes) < T - 1
    assert g_ours["c1"].shape == (3 * 3 * 2 * 3,) and g_ours["pc"].shape == (3 * 3 * 3 * 2,)
    for name in ("c1", "pc", "o1", "pd"):
        ref_g = np.asarray(g_ref[name], np.float64).ravel()
        assert np.abs(ref_g).max() > 0, name
        err = np.abs(g_ours[name] - ref_g).max() / np.abs(ref_g).max()
        assert err < 1e-5, (name, err)


def test_integrate_fire_inference_matches_mlgenn(in_tmp):
    """IntegrateFireInput (values, not spikes) -> Conv2D -> IntegrateFire ->
    AvgPoolDense2D -> IntegrateFire with a spike-count readout, as in ANN-to-SNN
    conversion: voltages, spikes and readouts identical."""
    rng = np.random.default_rng(3)
    w_conv = rng.normal(0.3, 0.4, (3, 3, 2, 4)).astype(np.float32)
    w_dense = rng.normal(0.4, 0.5, (3 * 3 * 4, 5)).astype(np.float32)
    values = rng.uniform(0.0, 1.0, (3, 6, 6, 2)).astype(np.float32)
    labels = np.array([0, 3, 4])
    data, counts = {}, {}
    for which in ("ours", "mlgenn"):
        lib = _lib(which)
        M, C, N = lib.root, lib.C, lib.N
        net = M.Network()
        with net:
            inp = M.Population(N.IntegrateFireInput(v_thresh=2.0), (6, 6, 2), name="inp",
                               record_spikes=True)
            hid = M.Population(N.IntegrateFire(v_thresh=1.5), None, record_spikes=True,
                               name="hid")
            out = M.Population(N.IntegrateFire(v_thresh=2.0, readout="spike_count"), None,
                               name="out")
            M.Connection(inp, hid, C.Conv2D(w_conv, 4, 3, conv_padding="same"), name="conv")
            M.Connection(hid, out, C.AvgPoolDense2D(w_dense, 2), name="dense")
        comp = lib.CO.InferenceCompiler(evaluate_timesteps=40, batch_size=1)
        cn = comp.compile(net) if which == "ours" else comp.compile(net, "ifparity")
        recs = [lib.CB.VarRecorder(p, "v", key=f"V_{p.name}") for p in (inp, hid, out)] + \
            [lib.CB.SpikeRecorder(p, key=f"S_{p.name}") for p in (inp, hid)]
        with cn:
            _, data[which] = cn.evaluate({inp: values}, {out: labels}, callbacks=recs)
            # both: predict(x, outputs) -> (readouts, callback data)
            counts[which] = cn.predict({inp: values}, [out])[0][out]
    ours, ref = data["ours"], data["mlgenn"]
    for name in ("inp", "hid", "out"):
        np.testing.assert_array_equal(np.stack(ours[f"V_{name}"]), np.stack(ref[f"V_{name}"]),
                                      err_msg=name)
    for name in ("inp", "hid"):
        for ex in range(3):
            assert _spikes(ours, name, ex) == _spikes(ref, name, ex), name
    np.testing.assert_array_equal(counts["ours"], counts["mlgenn"])
    assert counts["ours"].sum() > 10
