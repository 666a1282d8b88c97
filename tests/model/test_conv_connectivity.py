"""Convolution and pooling connectivity: shapes, synapse structure and error messages.

The synapse tables are checked against direct loop implementations of each
operation written here (input pixel -> output pixel sums), so a wrong index,
padding or kernel layout shows up as a different output image.
"""

from __future__ import annotations

import numpy as np
import pytest

from app.model import Connection, InputLayer, Layer, Network, Population, SequentialNetwork
from app.model.connectivity import (
    AvgPool2D,
    AvgPoolConv2D,
    AvgPoolDense2D,
    Conv2D,
    Conv2DTranspose,
    Dense,
    OneToOne,
    build_synapses,
)
from app.model.conv import conv_same_padding
from app.model.errors import ModelError
from app.model.initializers import Normal
from app.model.neurons import IntegrateFire, LeakyIntegrateFire, SpikeInput


def _connect(conn, in_shape, out_shape=None):
    net = Network()
    with net:
        a = Population(SpikeInput(), in_shape, name="a")
        b = Population(LeakyIntegrateFire(), out_shape, name="b")
        c = Connection(a, b, conn)
    return a, b, c


def _apply(conn, in_shape, x):
    """Output image of the connection for input values x (sum of w * x_pre)."""
    a, b, c = _connect(conn, in_shape)
    t = build_synapses(conn, a.num_neurons, b.num_neurons, np.random.default_rng(0), False,
                       "c", a.shape, b.shape)
    pre = np.repeat(np.arange(a.num_neurons), np.diff(t.row_ptr))
    out = np.zeros(b.num_neurons)
    np.add.at(out, t.post, t.weight * x.reshape(-1)[pre])
    return out.reshape(b.shape), t


def _conv_loops(x, k, oh, ow, stride, pad):
    """out[r, c, o] = sum_{kr, kc, i} x[r*s - p + kr, c*s - p + kc, i] * k[kr, kc, i, o]."""
    h, w, ic = x.shape
    kh, kw, _, oc = k.shape
    out = np.zeros((oh, ow, oc))
    for r in range(oh):
        for c in range(ow):
            for kr in range(kh):
                for kc in range(kw):
                    ir, icol = r * stride[0] - pad[0] + kr, c * stride[1] - pad[1] + kc
                    if 0 <= ir < h and 0 <= icol < w:
                        out[r, c] += x[ir, icol] @ k[kr, kc]
    return out


@pytest.mark.parametrize("size,stride,padding,out_hw", [
    (3, 1, "valid", (5, 4)), (3, 1, "same", (7, 6)), (2, 1, "same", (7, 6)),
    (3, 2, "valid", (3, 2)), (3, 2, "same", (4, 3)), ((2, 3), (2, 1), "same", (4, 6))])
def test_conv2d_matches_direct_cross_correlation(size, stride, padding, out_hw):
    rng = np.random.default_rng(1)
    kh, kw = (size, size) if isinstance(size, int) else size
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    x = rng.normal(size=(7, 6, 2))
    k = rng.normal(size=(kh, kw, 2, 3)).astype(np.float32)
    out, t = _apply(Conv2D(k, 3, size, conv_strides=stride, conv_padding=padding), (7, 6, 2), x)
    assert out.shape == out_hw + (3,)
    pad = (0, 0) if padding == "valid" else (conv_same_padding(7, kh, sh),
                                             conv_same_padding(6, kw, sw))
    np.testing.assert_allclose(out, _conv_loops(x, k, *out_hw, (sh, sw), pad), atol=1e-5)
    np.testing.assert_array_equal(t.weight, k.reshape(-1)[t.kernel_index])
    assert t.kernel_shape == (kh, kw, 2, 3)


def test_conv2d_transpose_spreads_each_input_over_its_kernel():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4, 2))
    k = rng.normal(size=(3, 3, 5, 2)).astype(np.float32)  # (h, w, filters, in channels)
    out, _ = _apply(Conv2DTranspose(k, 5, 3, conv_strides=2), (3, 4, 2), x)
    assert out.shape == (7, 9, 5)  # in*stride + max(k - stride, 0)
    ref = np.zeros((7, 9, 5))
    for r in range(3):
        for c in range(4):
            for kr in range(3):
                for kc in range(3):
                    ref[r * 2 + kr, c * 2 + kc] += k[kr, kc] @ x[r, c]
    np.testing.assert_allclose(out, ref, atol=1e-5)
    same, _ = _apply(Conv2DTranspose(k, 5, 3, conv_strides=2, conv_padding="same"),
                     (3, 4, 2), x)
    assert same.shape == (6, 8, 5)


def test_avg_pool_averages_windows_and_drops_the_ragged_edge():
    x = np.arange(5 * 7 * 2, dtype=float).reshape(5, 7, 2)
    out, t = _apply(AvgPool2D(2), (5, 7, 2), x)
    assert out.shape == (2, 3, 2)
    ref = x[:4, :6].reshape(2, 2, 3, 2, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(out, ref)
    assert np.all(t.weight == np.float32(0.25))
    strided, _ = _apply(AvgPool2D(2, pool_strides=3), (5, 7, 2), x)
    assert strided.shape == (2, 2, 2)
    np.testing.assert_allclose(strided[1, 1], x[3:5, 3:5].mean(axis=(0, 1)))


def test_avg_pool_conv_is_pooling_then_convolution():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(8, 6, 2))
    k = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    out, t = _apply(AvgPoolConv2D(k, 4, 2, 3, conv_padding="same"), (8, 6, 2), x)
    pooled = x.reshape(4, 2, 3, 2, 2).mean(axis=(1, 3))
    assert out.shape == (4, 3, 4)
    np.testing.assert_allclose(out, _conv_loops(pooled, k, 4, 3, (1, 1), (1, 1)), atol=1e-5)
    # the synapses use kernel / pool area, like mlGeNN
    np.testing.assert_allclose(t.weight, k.reshape(-1)[t.kernel_index] / 4, rtol=1e-6)


def test_avg_pool_dense_is_pooling_then_dense_as_a_dense_matrix():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(4, 5, 3))
    w = rng.normal(size=(2 * 2 * 3, 6)).astype(np.float32)
    conn = AvgPoolDense2D(w, 2)
    out, t = _apply(conn, (4, 5, 3), x)
    assert out.shape == (6,) and conn.is_dense_layout
    assert t.num_synapses == 4 * 5 * 3 * 6
    pooled = x[:, :4].reshape(2, 2, 2, 2, 3).mean(axis=(1, 3))
    np.testing.assert_allclose(out, pooled.reshape(-1) @ w, atol=1e-5)


def test_shapes_are_inferred_along_a_sequential_network():
    net = SequentialNetwork()
    with net:
        InputLayer(SpikeInput(), (28, 28, 1))
        c = Layer(Conv2D(Normal(), 32, 4, True), LeakyIntegrateFire())
        d = Layer(Dense(np.zeros((20000, 7), np.float32)), IntegrateFire())
    assert c.shape == (20000,) and d.shape == (7,)
    net = SequentialNetwork()
    with net:
        InputLayer(SpikeInput(), (12, 12, 3))
        c = Layer(Conv2D(Normal(), 8, 3, conv_padding="same"), LeakyIntegrateFire())
        p = Layer(AvgPool2D(2), LeakyIntegrateFire())
        o = Layer(OneToOne(1.0), LeakyIntegrateFire())
    assert c.shape == (12, 12, 8) and p.shape == (6, 6, 8) and o.shape == (6, 6, 8)


def test_bad_shapes_and_arguments_name_the_fix():
    with pytest.raises(ModelError, match=r"\(height, width, channels\)"):
        _connect(Conv2D(1.0, 2, 3), (36,))
    with pytest.raises(ModelError, match=r"output shape is \(4, 4, 2\)"):
        _connect(Conv2D(1.0, 2, 3), (6, 6, 1), (10,))
    with pytest.raises(ModelError, match="flatten=True"):
        _connect(Conv2D(1.0, 2, 3), (6, 6, 1), (32,))
    with pytest.raises(ModelError, match=r"kernel has shape \(3, 3, 1, 2\)"):
        _connect(Conv2D(np.ones((3, 3, 2, 1)), 2, 3), (6, 6, 1))
    with pytest.raises(ModelError, match="does not fit"):
        _connect(Conv2D(1.0, 2, 7), (6, 6, 1))
    with pytest.raises(ModelError, match="pool_strides"):
        AvgPool2D(3, pool_strides=2)
    with pytest.raises(ModelError, match="conv_padding"):
        Conv2D(1.0, 2, 3, conv_padding="full")
    with pytest.raises(ModelError, match="conv_size"):
        Conv2D(1.0, 2, (3, 3, 3))
    with pytest.raises(ModelError, match="12 rows"):
        _connect(AvgPoolDense2D(np.ones((10, 2)), 2), (4, 6, 2))
    with pytest.raises(ModelError, match="3 rows"):
        _connect(Dense(np.ones((4, 2))), 3)


def test_a_flat_kernel_from_a_checkpoint_is_accepted():
    k = np.arange(18, dtype=np.float32)
    out, t = _apply(Conv2D(k, 2, 3), (4, 4, 1), np.ones((4, 4, 1)))
    np.testing.assert_array_equal(t.weight, k[t.kernel_index])


def test_population_without_shape_is_reported():
    net = Network()
    with net:
        p = Population(LeakyIntegrateFire(), name="loose")
    with pytest.raises(ModelError, match="has no shape"):
        _ = p.num_neurons
