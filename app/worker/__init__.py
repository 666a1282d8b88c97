"""Background training: the worker process, its message protocol, runs on disk
and a Qt-free client (``app.worker.qt`` adds the Qt timer adapter)."""
from app.worker.client import TrainingClient
from app.worker.protocol import WorkerSpec

__all__ = ["TrainingClient", "WorkerSpec"]
