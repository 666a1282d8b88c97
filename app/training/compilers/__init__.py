"""Compilers: turn a model.Network into a runnable (and trainable) compiled network."""

from .base import CompileError, Compiler, Problem, check_network
from .eprop import EPropCompiler
from .eventprop import EventPropCompiler
from .inference import InferenceCompiler

__all__ = ["Compiler", "CompileError", "Problem", "check_network", "InferenceCompiler",
           "EventPropCompiler", "EPropCompiler"]
