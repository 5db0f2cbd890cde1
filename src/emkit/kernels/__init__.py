"""Pure array functions: NumPy reference kernels and their numba twins.

Nothing here knows about estimators, validation or EM loops; every function takes plain arrays
and returns plain arrays, so the same kernel serves mixtures, HMM emissions and benchmarks.
"""
