"""Benchmarks for eco_magic: speed (overhead, fixed cost, load time, scale) and truth (accuracy, short cells, GPU).

Scripts that print tables, not tests: ``python -m benchmarks`` runs them all and rewrites ``RESULTS.md``.
See ``README.md`` in this folder.
"""
