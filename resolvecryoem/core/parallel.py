"""Slab loops on several threads.

The voxel-wise work of a run (histogram lookups, the likelihood terms, shell sums and shell
expansions) goes slab by slab to keep its temporaries small.  numpy lets go of the GIL inside
ufuncs, ``take`` and ``interp``, so the slabs of one loop can run on ``threads`` threads of
the same process: no copy of the maps, and the same result as the plain loop (each slab's
work is the same; only the order in which slabs finish changes, and results are returned in
slab order).
"""
from __future__ import annotations

import queue
from concurrent.futures import ThreadPoolExecutor


def map_slabs(fn, slabs, threads: int = 1, make_work=None) -> list:
    """``[fn(sl) for sl in slabs]``, on up to ``threads`` threads.  ``fn`` must write only
    to its own slab of any shared output.

    ``make_work`` (optional, no arguments): buffers for ``fn``, one set per thread, made here
    in the calling thread (made in a worker they would come from that thread's malloc arena,
    which keeps the memory after the loop: 40 MB more peak memory on a 256^3 run) and handed
    from slab to slab; ``fn`` is then called as ``fn(sl, work)`` with a set no other thread
    uses meanwhile."""
    slabs = list(slabs)
    threads = max(1, min(int(threads), len(slabs)))
    call = fn if make_work is None else _with_work(fn, make_work, threads)
    if threads == 1:
        return [call(sl) for sl in slabs]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(call, slabs))


def _with_work(fn, make_work, n: int):
    """``fn(sl, work)`` as ``call(sl)``, each call with one of ``n`` work sets made here."""
    free = queue.SimpleQueue()
    for _ in range(n):
        free.put(make_work())

    def call(sl):
        work = free.get()
        try:
            return fn(sl, work)
        finally:
            free.put(work)
    return call
