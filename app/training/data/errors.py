"""Exception raised for malformed datasets."""

from __future__ import annotations

__all__ = ["DatasetError"]


class DatasetError(ValueError):
    """A dataset does not fit the network or is malformed; the message names the fix."""
