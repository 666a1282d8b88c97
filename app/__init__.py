"""Spike Studio: SNN node editor and mlGeNN-shaped training library."""
