"""Which pipeline step is running: for benchmarks that attribute what they measure (memory,
transforms) to the steps of a run made in their own process."""
from __future__ import annotations

import argparse
import contextlib
import time

from resolvecryoem.core import runlog


@contextlib.contextmanager
def tracking_steps(current: list, durations: dict | None = None):
    """While in this block, ``current[0]`` names the RunLog step that is running ("after X"
    between steps, "start" before the first); ``durations`` ({step: wall seconds}, summed
    over repeats) when given."""
    original = runlog.RunLog.step

    @contextlib.contextmanager
    def step(self, name):
        current[0] = name
        t = time.perf_counter()
        with original(self, name):
            yield
        if durations is not None:
            durations[name] = durations.get(name, 0.0) + time.perf_counter() - t
        current[0] = f"after {name}"

    current[:] = ["start"]
    runlog.RunLog.step = step
    try:
        yield current
    finally:
        runlog.RunLog.step = original


def step_parser(doc: str) -> argparse.ArgumentParser:
    """Arguments of the per-step benchmarks: box edge n, --boxed, --threads."""
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("n", type=int, help="box edge of the speed case (voxels)")
    p.add_argument("--boxed", action="store_true", help="default boxing (else the whole box)")
    p.add_argument("--threads", type=int, default=2)
    return p
