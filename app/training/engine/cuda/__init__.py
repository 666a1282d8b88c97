"""CUDA backend of the engine (numba-cuda). Importing this package imports nothing
heavy; ``sim.CUDASimulator`` (which imports numba.cuda) is loaded by
``engine.get_backend("cuda")`` only."""
