"""Stand-in for ``tonic``: only what mlGeNN's examples use (``datasets.SHD`` and
``DiskCachedDataset``), serving synthetic events instead of downloads."""

from __future__ import annotations

from typing import Any

from . import datasets


class DiskCachedDataset:
    """Pass-through: the synthetic data needs no cache."""

    def __init__(self, dataset: Any, cache_path: str = "", **kwargs: Any) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]


__all__ = ["DiskCachedDataset", "datasets"]
