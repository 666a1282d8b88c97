"""Compilers: turn a model.Network into a runnable (and trainable) compiled network."""

from .base import CompileError, Compiler, Problem, check_network
from .eventprop import EventPropCompiler
from .inference import InferenceCompiler

__all__ = ["Compiler", "CompileError", "Problem", "check_network", "InferenceCompiler",
           "EventPropCompiler"]

try:
    from .eprop import EPropCompiler  # noqa: F401

    __all__.append("EPropCompiler")
except ImportError:
    pass
