"""Peak resident memory per pipeline step, in bytes per input voxel.

    python benchmarks/memory_by_step.py 256 [--boxed]

Runs the pipeline in this process on an n^3 pair of half maps made from the 5ME2 model (as the
speed rows of benchmarks/run.py) and samples the process's resident memory every 5 ms,
attributing each sample to the step running at the time ("after X": between steps).  For
finding which step sets the peak; the benchmark's speed rows give the whole run's peak.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.run import write_speed_pair  # noqa: E402
from benchmarks.steps import step_parser, tracking_steps  # noqa: E402
from resolvecryoem.core import pipeline  # noqa: E402
from resolvecryoem.core.allocator import reuse_freed_memory  # noqa: E402
from resolvecryoem.core.params import DensityModificationParams  # noqa: E402


def main(argv=None):
    p = step_parser(__doc__)
    args = p.parse_args(argv)
    reuse_freed_memory()  # as the command line: the peaks it would see
    work = Path(tempfile.mkdtemp(prefix="resolvecryoem-mem-"))
    try:
        paths = write_speed_pair(args.n, work)
        peaks = profile(paths, work / "out", DensityModificationParams(
            molecular_mass=64000, box_before_analysis=args.boxed, nproc=args.threads))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for step, rss in peaks.items():
        print(f"{rss / args.n ** 3:6.1f} bytes/voxel  {step}")
    print(f"{max(peaks.values()) / args.n ** 3:6.1f} bytes/voxel  PEAK")


def profile(paths, out, params) -> dict:
    proc = psutil.Process()
    current, peaks, done = ["start"], {}, []

    def sample():
        while not done:
            rss = proc.memory_info().rss
            peaks[current[0]] = max(peaks.get(current[0], 0), rss)
            time.sleep(0.005)

    with tracking_steps(current):
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            pipeline.run(paths[0], paths[1], out, params, log=None)
        finally:
            done.append(True)
            sampler.join()
    return peaks


if __name__ == "__main__":
    main()
