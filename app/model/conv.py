"""Connectivity between 2-D shaped populations: convolution and average pooling.

Constructor arguments, output shapes and padding follow mlGeNN. Populations
are laid out row-major as (height, width, channels), so neuron
``(r * width + c) * channels + ch``. Every connection is materialised as CSR
synapses (``SynapseTable``); those whose weights come from a shared kernel
also carry, per synapse, the index of its kernel entry so a compiler can keep
the kernel tied (``weight = kernel[kernel_index]``) and sum the per-synapse
gradients back onto it.
"""

from __future__ import annotations

from math import ceil
from typing import Any

import numpy as np

from .connectivity import Connectivity, SynapseTable
from .errors import ModelError, bad_arg
from .initializers import Initializer, materialise
from .params import check_bool

PADDINGS = ("valid", "same")


def pair(owner: str, name: str, value: Any, default: tuple[int, int] | None = None
         ) -> tuple[int, int]:
    """An mlGeNN 2-D parameter: one int for both dimensions, or (height, width)."""
    if value is None:
        if default is None:
            raise bad_arg(owner, name, value, "an integer or (height, width) is required")
        return default
    if isinstance(value, (list, tuple)):
        vals = tuple(value)
    else:
        vals = (value, value)
    if len(vals) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                 and v >= 1 for v in vals):
        raise bad_arg(owner, name, value, "a positive integer or a (height, width) pair of "
                      "positive integers")
    return int(vals[0]), int(vals[1])


def conv_same_padding(in_size: int, conv_size: int, stride: int) -> int:
    """Padding before the first row/column for "same" convolution (TensorFlow's rule)."""
    if in_size % stride == 0:
        return max(conv_size - stride, 0) // 2
    return max(conv_size - in_size % stride, 0) // 2


def _check_filters(owner: str, filters: Any) -> int:
    if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters < 1:
        raise bad_arg(owner, "filters", filters, "a positive integer (number of output "
                      "channels) is required")
    return int(filters)


def _check_padding(owner: str, padding: Any) -> str:
    if padding not in PADDINGS:
        raise bad_arg(owner, "conv_padding", padding, "'valid' or 'same'")
    return str(padding)


def source_hwc(owner: str, shape: tuple[int, ...] | None, what: str = "source") -> tuple[int, ...]:
    """The (height, width, channels) of a population feeding 2-D connectivity."""
    if shape is None or len(shape) != 3:
        raise ModelError(f"{owner}: the {what} population has shape {shape}; 2-D connectivity "
                         "needs a (height, width, channels) shape, e.g. shape=(28, 28, 1)")
    return tuple(int(s) for s in shape)


def _pool_output(size: tuple[int, int], strides: tuple[int, int], h: int, w: int
                 ) -> tuple[int, int]:
    return ceil((h - size[0] + 1) / strides[0]), ceil((w - size[1] + 1) / strides[1])


def _conv_output(size: tuple[int, int], strides: tuple[int, int], padding: str, h: int,
                 w: int) -> tuple[int, int]:
    if padding == "valid":
        return ceil((h - size[0] + 1) / strides[0]), ceil((w - size[1] + 1) / strides[1])
    return ceil(h / strides[0]), ceil(w / strides[1])


def _paddings(size: tuple[int, int], strides: tuple[int, int], padding: str, h: int,
              w: int) -> tuple[int, int]:
    if padding == "valid":
        return 0, 0
    return conv_same_padding(h, size[0], strides[0]), conv_same_padding(w, size[1], strides[1])


def _set_target_shape(owner: str, target: Any, output_shape: tuple[int, ...],
                      flatten: bool) -> None:
    """Give ``target`` the connectivity's output shape, or check the one it has."""
    flat = (int(np.prod(output_shape)),)
    want = flat if flatten else tuple(output_shape)
    if target.shape is None:
        target.shape = want
    elif tuple(target.shape) != want:
        how = "flattened " if flatten else ""
        raise ModelError(
            f"{owner}: target population '{target.name}' has shape {tuple(target.shape)} but "
            f"the {how}output shape is {want}; leave the target's shape out (it is inferred) "
            f"or set it to {want}" + ("" if flatten else
                                       f" (or pass flatten=True for shape {flat})"))


def _csr(pre: np.ndarray, post: np.ndarray, n_pre: int, n_post: int
         ) -> tuple[np.ndarray, np.ndarray]:
    """Sort synapses by (pre, post); returns (order, row_ptr)."""
    order = np.argsort(pre.astype(np.int64) * max(n_post, 1) + post, kind="stable")
    row_ptr = np.zeros(n_pre + 1, np.int64)
    np.cumsum(np.bincount(pre, minlength=n_pre), out=row_ptr[1:])
    return order, row_ptr


def _per_synapse(value: Any, rng: np.random.Generator, kernel_shape: tuple[int, ...],
                 index: np.ndarray, tied: bool, owner: str, name: str) -> np.ndarray:
    """Synapse values from a kernel-shaped array/constant/initializer.

    A kernel-shaped array or constant is indexed by kernel entry. An initializer
    draws one kernel when ``tied`` (shared weights) and one value per synapse
    otherwise, as GeNN does for sparse (untied) convolution.
    """
    if isinstance(value, Initializer) and not tied:
        return value.sample(rng, (index.shape[0],))
    kernel = materialise(value, rng, kernel_shape, owner, name).reshape(-1)
    return kernel[index]


class KernelConnectivity(Connectivity):
    """Base of the connectivity types built here (2-D source, optional shared kernel)."""

    #: False for fixed pooling weights (mlGeNN does not train them with EventProp).
    trainable = True

    def output_shape(self, source_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of the target population (before flattening)."""
        raise NotImplementedError

    def kernel_shape(self, source_shape: tuple[int, ...]) -> tuple[int, ...] | None:
        """Shape of the shared kernel (None when the weights are not a shared kernel)."""
        return None

    def connect(self, source: Any, target: Any) -> None:
        owner = type(self).__name__
        source_hwc(owner, source.shape)
        _set_target_shape(owner, target, self.output_shape(tuple(source.shape)),
                          getattr(self, "flatten", False))
        kshape = self.kernel_shape(tuple(source.shape))
        w = self.weight
        flat_ok = isinstance(w, np.ndarray) and w.ndim == 1 and w.size == int(np.prod(kshape or ()))
        if kshape is not None and isinstance(w, np.ndarray) and w.ndim \
                and tuple(w.shape) != kshape and not flat_ok:
            raise bad_arg(owner, "weight", f"array of shape {self.weight.shape}",
                          f"the kernel has shape {kshape} (height, width, "
                          + ("filters, input channels)" if isinstance(self, Conv2DTranspose)
                             else "input channels, filters)"))

    def synapses(self, source_shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
        """(pre, post, kernel index) of every synapse, in any order."""
        raise NotImplementedError

    def kernel_scale(self) -> float:
        """Factor between the user's kernel and the one the synapses use."""
        return 1.0

    def weight_from_trained(self, kernel: np.ndarray) -> np.ndarray:
        """The ``weight`` argument that reproduces a trained (tied) kernel."""
        return kernel / np.float32(self.kernel_scale()) if self.kernel_scale() != 1.0 \
            else kernel

    def build_table(self, source_shape: tuple[int, ...], target_shape: tuple[int, ...],
                    rng: np.random.Generator, name: str, tied: bool) -> SynapseTable:
        """Materialise the synapses; see ``SynapseTable.kernel_index``."""
        owner = f"Connection '{name}'"
        kshape = self.kernel_shape(source_shape)
        pre, post, kidx = self.synapses(source_shape)
        n_pre = int(np.prod(source_shape))
        n_post = int(np.prod(target_shape))
        order, row_ptr = _csr(pre, post, n_pre, n_post)
        post = post[order].astype(np.int32)
        kidx = kidx[order].astype(np.int64)
        scale = np.float32(self.kernel_scale())
        kernel = None
        if tied:
            kernel = materialise(self.weight, rng, kshape, owner, "weight").reshape(-1)
            kernel = (kernel * scale if scale != 1.0 else kernel).astype(np.float32)
            weight = kernel[kidx]
        else:
            weight = _per_synapse(self.weight, rng, kshape, kidx, False, owner, "weight")
            if scale != 1.0:
                weight = weight * scale
        delay = _per_synapse(self.delay, rng, kshape, kidx, tied, owner, "delay")
        return SynapseTable(row_ptr, post, weight.astype(np.float32), delay.astype(np.float32),
                            kernel_index=kidx, kernel=kernel, kernel_shape=kshape)


class Conv2D(KernelConnectivity):
    """Convolution (cross-correlation) from a (height, width, channels) population.

    ``weight`` is the kernel, shape (conv_h, conv_w, input channels, filters), or a
    constant / initializer. The target gets shape (out_h, out_w, filters), or the
    flattened size with ``flatten=True``; "same" padding pads as TensorFlow does.
    """

    def __init__(self, weight: Any, filters: int, conv_size: Any, flatten: bool = False,
                 conv_strides: Any = None, conv_padding: str = "valid",
                 delay: Any = 0) -> None:
        o = "Conv2D"
        super().__init__(weight, delay, o)
        self.filters = _check_filters(o, filters)
        self.conv_size = pair(o, "conv_size", conv_size)
        self.flatten = check_bool(o, "flatten", flatten)
        self.conv_strides = pair(o, "conv_strides", conv_strides, (1, 1))
        self.conv_padding = _check_padding(o, conv_padding)

    def output_shape(self, source_shape: tuple[int, ...]) -> tuple[int, ...]:
        h, w, _ = source_hwc("Conv2D", source_shape)
        oh, ow = _conv_output(self.conv_size, self.conv_strides, self.conv_padding, h, w)
        if oh < 1 or ow < 1:
            raise ModelError(f"Conv2D: a {self.conv_size} kernel does not fit a {h}x{w} "
                             "input with 'valid' padding; use a smaller conv_size or "
                             "conv_padding='same'")
        return oh, ow, self.filters

    def kernel_shape(self, source_shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.conv_size + (source_shape[2], self.filters)

    def synapses(self, source_shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        h, w, ic = source_shape
        oh, ow, oc = self.output_shape(source_shape)
        kh, kw = self.conv_size
        sh, sw = self.conv_strides
        ph, pw = _paddings(self.conv_size, self.conv_strides, self.conv_padding, h, w)
        return _conv_synapses(h, w, ic, oh, ow, oc, kh, kw, sh, sw, ph, pw,
                              lambda kr, kc, ci, co: ((kr * kw + kc) * ic + ci) * oc + co)


class Conv2DTranspose(KernelConnectivity):
    """Transposed convolution: input pixel (r, c) spreads its kernel over output
    rows ``r*stride - pad + k``. Kernel shape (conv_h, conv_w, filters, input channels)."""

    def __init__(self, weight: Any, filters: int, conv_size: Any, flatten: bool = False,
                 conv_strides: Any = None, conv_padding: str = "valid",
                 delay: Any = 0) -> None:
        o = "Conv2DTranspose"
        super().__init__(weight, delay, o)
        self.filters = _check_filters(o, filters)
        self.conv_size = pair(o, "conv_size", conv_size)
        self.flatten = check_bool(o, "flatten", flatten)
        self.conv_strides = pair(o, "conv_strides", conv_strides, (1, 1))
        self.conv_padding = _check_padding(o, conv_padding)

    def output_shape(self, source_shape: tuple[int, ...]) -> tuple[int, ...]:
        h, w, _ = source_hwc("Conv2DTranspose", source_shape)
        (kh, kw), (sh, sw) = self.conv_size, self.conv_strides
        if self.conv_padding == "valid":
            return h * sh + max(kh - sh, 0), w * sw + max(kw - sw, 0), self.filters
        return h * sh, w * sw, self.filters

    def kernel_shape(self, source_shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.conv_size + (self.filters, source_shape[2])

    def synapses(self, source_shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        h, w, ic = source_shape
        oh, ow, oc = self.output_shape(source_shape)
        kh, kw = self.conv_size
        sh, sw = self.conv_strides
        ph, pw = _paddings(self.conv_size, self.conv_strides, self.conv_padding, h, w)
        r, c, ci, kr, kc, co = np.meshgrid(np.arange(h), np.arange(w), np.arange(ic),
                                           np.arange(kh), np.arange(kw), np.arange(oc),
                                           indexing="ij")
        orow = r * sh - ph + kr
        ocol = c * sw - pw + kc
        ok = (orow >= 0) & (orow < oh) & (ocol >= 0) & (ocol < ow)
        pre = ((r * w + c) * ic + ci)[ok]
        post = ((orow * ow + ocol) * oc + co)[ok]
        kidx = (((kr * kw + kc) * oc + co) * ic + ci)[ok]
        return pre.ravel(), post.ravel(), kidx.ravel()


class AvgPool2D(KernelConnectivity):
    """Average pooling: each pool window's inputs connect to one output with weight
    1/(pool_h*pool_w). Fixed weights (not trained by EventProp, as in mlGeNN)."""

    trainable = False

    def __init__(self, pool_size: Any, flatten: bool = False, pool_strides: Any = None,
                 delay: Any = 0) -> None:
        o = "AvgPool2D"
        self.pool_size = pair(o, "pool_size", pool_size)
        self.flatten = check_bool(o, "flatten", flatten)
        self.pool_strides = pair(o, "pool_strides", pool_strides, self.pool_size)
        _check_pool_strides(o, self.pool_size, self.pool_strides)
        super().__init__(1.0 / (self.pool_size[0] * self.pool_size[1]), delay, o)
        if not isinstance(self.delay, (int, float)):
            raise bad_arg(o, "delay", delay, "pooling supports one constant delay only")

    def weight_from_trained(self, kernel: np.ndarray) -> None:
        return None

    def __repr__(self) -> str:
        return (f"AvgPool2D(pool_size={self.pool_size!r}, flatten={self.flatten!r}, "
                f"pool_strides={self.pool_strides!r}, delay={self.delay!r})")

    def output_shape(self, source_shape: tuple[int, ...]) -> tuple[int, ...]:
        h, w, ic = source_hwc("AvgPool2D", source_shape)
        return _pool_output(self.pool_size, self.pool_strides, h, w) + (ic,)

    def synapses(self, source_shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        h, w, ic = source_shape
        oh, ow, _ = self.output_shape(source_shape)
        pre, pr, pc, ch = _pooled(h, w, ic, self.pool_size, self.pool_strides, oh, ow)
        return pre, (pr * ow + pc) * ic + ch, np.zeros(pre.shape[0], np.int64)

    def build_table(self, source_shape: tuple[int, ...], target_shape: tuple[int, ...],
                    rng: np.random.Generator, name: str, tied: bool) -> SynapseTable:
        pre, post, _ = self.synapses(source_shape)
        order, row_ptr = _csr(pre, post, int(np.prod(source_shape)),
                              int(np.prod(target_shape)))
        n = pre.shape[0]
        return SynapseTable(row_ptr, post[order].astype(np.int32),
                            np.full(n, self.weight, np.float32),
                            np.full(n, self.delay, np.float32))


class AvgPoolConv2D(KernelConnectivity):
    """Average pooling fused with a stride-1 convolution (ANN conversion, no
    non-linearity between them). The synapses use kernel / (pool_h*pool_w);
    kernel shape (conv_h, conv_w, input channels, filters)."""

    def __init__(self, weight: Any, filters: int, pool_size: Any, conv_size: Any,
                 flatten: bool = False, pool_strides: Any = None, conv_strides: Any = None,
                 conv_padding: str = "valid", delay: Any = 0) -> None:
        o = "AvgPoolConv2D"
        super().__init__(weight, delay, o)
        self.filters = _check_filters(o, filters)
        self.pool_size = pair(o, "pool_size", pool_size)
        self.conv_size = pair(o, "conv_size", conv_size)
        self.flatten = check_bool(o, "flatten", flatten)
        self.pool_strides = pair(o, "pool_strides", pool_strides, self.pool_size)
        self.conv_strides = pair(o, "conv_strides", conv_strides, (1, 1))
        self.conv_padding = _check_padding(o, conv_padding)
        _check_pool_strides(o, self.pool_size, self.pool_strides)
        if self.conv_strides != (1, 1):
            raise bad_arg(o, "conv_strides", conv_strides, "only (1, 1) is supported (as in "
                          "mlGeNN)")

    def pool_output_shape(self, source_shape: tuple[int, ...]) -> tuple[int, int, int]:
        """Shape of the (virtual) pooled image the convolution reads."""
        h, w, ic = source_hwc("AvgPoolConv2D", source_shape)
        return _pool_output(self.pool_size, self.pool_strides, h, w) + (ic,)

    def output_shape(self, source_shape: tuple[int, ...]) -> tuple[int, ...]:
        ph, pw, _ = self.pool_output_shape(source_shape)
        oh, ow = _conv_output(self.conv_size, self.conv_strides, self.conv_padding, ph, pw)
        if oh < 1 or ow < 1:
            raise ModelError(f"AvgPoolConv2D: a {self.conv_size} kernel does not fit the "
                             f"{ph}x{pw} pooled input; use a smaller conv_size or "
                             "conv_padding='same'")
        return oh, ow, self.filters

    def kernel_shape(self, source_shape: tuple[int, ...]) -> tuple[int, ...]:
        return self.conv_size + (source_shape[2], self.filters)

    def kernel_scale(self) -> float:
        return 1.0 / (self.pool_size[0] * self.pool_size[1])

    def synapses(self, source_shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
        h, w, ic = source_shape
        ph, pw, _ = self.pool_output_shape(source_shape)
        oh, ow, oc = self.output_shape(source_shape)
        kh, kw = self.conv_size
        padh, padw = _paddings(self.conv_size, self.conv_strides, self.conv_padding, ph, pw)
        # pooled pixel -> conv outputs, then every source pixel of that pool window
        p_pre, p_post, kidx = _conv_synapses(
            ph, pw, ic, oh, ow, oc, kh, kw, 1, 1, padh, padw,
            lambda kr, kc, ci, co: ((kr * kw + kc) * ic + ci) * oc + co)
        pre, pr, pc, ch = _pooled(h, w, ic, self.pool_size, self.pool_strides, ph, pw)
        pooled_of = (pr * pw + pc) * ic + ch
        counts = np.bincount(p_pre, minlength=ph * pw * ic)
        order = np.argsort(p_pre, kind="stable")
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        rep = counts[pooled_of]
        src = np.repeat(pre, rep)
        first = np.repeat(starts[pooled_of], rep)
        within = np.arange(src.shape[0]) - np.repeat(np.cumsum(rep) - rep, rep)
        sel = order[first + within]
        return src, p_post[sel], kidx[sel]


class AvgPoolDense2D(KernelConnectivity):
    """Average pooling fused with a dense layer: ``weight`` has shape
    (pooled height * width * channels, units). Materialised as a dense
    [pre, post] matrix (zeros outside the pool windows), trained per synapse as
    mlGeNN does."""

    def __init__(self, weight: Any, pool_size: Any, pool_strides: Any = None,
                 delay: Any = 0) -> None:
        o = "AvgPoolDense2D"
        super().__init__(weight, delay, o)
        self.pool_size = pair(o, "pool_size", pool_size)
        self.pool_strides = pair(o, "pool_strides", pool_strides, self.pool_size)
        _check_pool_strides(o, self.pool_size, self.pool_strides)
        if isinstance(self.weight, np.ndarray) and self.weight.ndim != 2:
            raise bad_arg(o, "weight", f"array of shape {self.weight.shape}",
                          "a 2-D (pooled inputs, units) array")

    @property
    def is_dense_layout(self) -> bool:
        return True

    def pool_output_shape(self, source_shape: tuple[int, ...]) -> tuple[int, int, int]:
        """Shape of the (virtual) pooled image the dense layer reads."""
        h, w, ic = source_hwc("AvgPoolDense2D", source_shape)
        return _pool_output(self.pool_size, self.pool_strides, h, w) + (ic,)

    def output_shape(self, source_shape: tuple[int, ...]) -> tuple[int, ...]:
        raise NotImplementedError

    def connect(self, source: Any, target: Any) -> None:
        o = "AvgPoolDense2D"
        n_pool = int(np.prod(self.pool_output_shape(source.shape)))
        if isinstance(self.weight, np.ndarray):
            rows, units = self.weight.shape
            if rows != n_pool:
                raise bad_arg(o, "weight", f"array of shape {self.weight.shape}",
                              f"{n_pool} rows (the pooled {self.pool_output_shape(source.shape)}"
                              " image, flattened) are required")
            if target.shape is None:
                target.shape = (units,)
            elif target.num_neurons != units:
                raise ModelError(f"{o}: target population '{target.name}' has "
                                 f"{target.num_neurons} neurons but the weights have {units} "
                                 "columns")
        elif target.shape is None:
            raise ModelError(f"{o}: with a {type(self.weight).__name__} weight the target "
                             "population needs an explicit shape")

    def weight_from_trained(self, kernel: np.ndarray) -> None:
        return None

    def build_table(self, source_shape: tuple[int, ...], target_shape: tuple[int, ...],
                    rng: np.random.Generator, name: str, tied: bool) -> SynapseTable:
        owner = f"Connection '{name}'"
        h, w, ic = source_shape
        ph, pw, _ = self.pool_output_shape(source_shape)
        n_pre = h * w * ic
        n_post = int(np.prod(target_shape))
        dense_w = materialise(self.weight, rng, (ph * pw * ic, n_post), owner, "weight")
        dense_w = dense_w.reshape(-1) / np.float32(self.pool_size[0] * self.pool_size[1])
        pre, pr, pc, ch = _pooled(h, w, ic, self.pool_size, self.pool_strides, ph, pw)
        full = np.zeros((n_pre, n_post), np.float32)
        full[pre] = dense_w.reshape(ph * pw * ic, n_post)[(pr * pw + pc) * ic + ch]
        delay = materialise(self.delay, rng, (n_pre, n_post), owner, "delay")
        return SynapseTable(np.arange(n_pre + 1, dtype=np.int64) * n_post,
                            np.tile(np.arange(n_post, dtype=np.int32), n_pre),
                            full.reshape(-1), delay.reshape(-1).astype(np.float32))


def _check_pool_strides(owner: str, size: tuple[int, int], strides: tuple[int, int]) -> None:
    if strides[0] < size[0] or strides[1] < size[1]:
        raise bad_arg(owner, "pool_strides", strides, f"strides >= pool_size {size} are "
                      "required (overlapping pools are not supported, as in mlGeNN)")


def _pooled(h: int, w: int, ic: int, size: tuple[int, int], strides: tuple[int, int],
            oh: int, ow: int) -> tuple[np.ndarray, ...]:
    """Source neurons inside a pool window: (pre, pool row, pool col, channel)."""
    r, c, ch = np.meshgrid(np.arange(h), np.arange(w), np.arange(ic), indexing="ij")
    pr, pc = r // strides[0], c // strides[1]
    ok = (r < pr * strides[0] + size[0]) & (c < pc * strides[1] + size[1]) \
        & (pr < oh) & (pc < ow)
    pre = (r * w + c) * ic + ch
    return pre[ok].ravel(), pr[ok].ravel(), pc[ok].ravel(), ch[ok].ravel()


def _conv_synapses(h: int, w: int, ic: int, oh: int, ow: int, oc: int, kh: int, kw: int,
                   sh: int, sw: int, ph: int, pw: int, kernel_index: Any
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Output (r, c, co) reads input (r*sh - ph + kr, c*sw - pw + kc, ci); built one
    kernel position at a time so memory stays at one output image per step."""
    r, c, ci, co = np.meshgrid(np.arange(oh), np.arange(ow), np.arange(ic), np.arange(oc),
                               indexing="ij")
    post_all = ((r * ow + c) * oc + co).ravel()
    pres, posts, kidxs = [], [], []
    for kr in range(kh):
        for kc in range(kw):
            ir = (r * sh - ph + kr).ravel()
            icol = (c * sw - pw + kc).ravel()
            ok = (ir >= 0) & (ir < h) & (icol >= 0) & (icol < w)
            pres.append(((ir * w + icol) * ic + ci.ravel())[ok])
            posts.append(post_all[ok])
            kidxs.append(kernel_index(kr, kc, ci.ravel(), co.ravel())[ok])
    return np.concatenate(pres), np.concatenate(posts), np.concatenate(kidxs)


KERNEL_CONNECTIVITY = (Conv2D, Conv2DTranspose, AvgPool2D, AvgPoolConv2D, AvgPoolDense2D)
