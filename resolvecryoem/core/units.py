"""Independent units of work run side by side in processes, their progress lines passed on
as they come.

The units of a run (refining a half map's model copies, making each half's composite) need
nothing but the state directory, so they run in forked processes with one FFT thread each.
Each process sends its log lines through a queue that the caller drains while it waits, so
a user sees a line per model as each model finishes, not a batch at the end.
"""
from __future__ import annotations

import multiprocessing
import queue as queue_module
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

_progress = None  # the queue of a worker process (set by the pool's initializer)


def run_units(fn, state, units, workers: int, log=None) -> None:
    """``fn(state, *unit, log=..., threads=1)`` for every unit, in up to ``workers``
    processes (in this process, one after the other, when ``workers`` <= 1).  Log lines reach
    ``log`` as the units write them.  The first failure is raised after the others stop."""
    emit = log or (lambda _: None)
    workers = min(len(units), workers)
    if workers <= 1:
        for u in units:
            fn(state, *u, log=log)
        return
    # fork: a caller's script without a __main__ guard would be run again by spawn.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    lines = context.Queue()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_set_progress,
                             initargs=(lines,)) as ex:
        pending = {ex.submit(_unit_in_process, fn, state, u) for u in units}
        done = set()
        while pending:
            finished, pending = wait(pending, timeout=0.2, return_when=FIRST_EXCEPTION)
            done |= finished
            _drain(lines, emit)
            if any(f.exception() is not None for f in finished):
                for f in pending:
                    f.cancel()
                break
    _drain(lines, emit)  # the workers have exited: their last lines are in the queue
    for f in done:
        f.result()


def _set_progress(q) -> None:
    global _progress
    _progress = q


def _unit_in_process(fn, state, unit) -> None:
    fn(state, *unit, log=_progress.put, threads=1)


def _drain(q, emit) -> None:
    while True:
        try:
            emit(q.get_nowait())
        except queue_module.Empty:
            return
