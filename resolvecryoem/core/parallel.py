"""Slab loops on several threads.

The voxel-wise work of a run (histogram lookups, the likelihood terms, shell sums and shell
expansions) goes slab by slab to keep its temporaries small.  numpy lets go of the GIL inside
ufuncs, ``take`` and ``interp``, so the slabs of one loop can run on ``threads`` threads of
the same process: no copy of the maps, and the same result as the plain loop (each slab's
work is the same; only the order in which slabs finish changes, and results are returned in
slab order).
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def map_slabs(fn, slabs, threads: int = 1) -> list:
    """``[fn(sl) for sl in slabs]``, on up to ``threads`` threads.  ``fn`` must write only
    to its own slab of any shared output (and keep per-thread buffers of its own)."""
    slabs = list(slabs)
    threads = max(1, min(int(threads), len(slabs)))
    if threads == 1:
        return [fn(sl) for sl in slabs]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(fn, slabs))
