"""Transforms of the analysed box per pipeline step, and the time they take.

    python benchmarks/transforms.py 400 [--boxed] [--threads 2] [--save]

Runs the pipeline in this process (as the command line does: malloc keeps freed memory) on
an n^3 pair of half maps made from the 5ME2 model (the speed rows of benchmarks/run.py) and
counts every scipy.fft call on an array of at least a quarter of the analysed box's
coefficients, with its wall time, by the step running at the time.  The transforms a run
must make bound its time from below: the table shows how much of each step is transforms and
how much is everything else.  ``--save`` writes benchmarks/results/transforms_<n>[_boxed].md.
"""
from __future__ import annotations

import collections
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import scipy.fft

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.run import write_speed_pair  # noqa: E402
from benchmarks.steps import step_parser, tracking_steps  # noqa: E402
from resolvecryoem.core import pipeline  # noqa: E402
from resolvecryoem.core.allocator import reuse_freed_memory  # noqa: E402
from resolvecryoem.core.params import DensityModificationParams  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
COUNTED = ("rfftn", "irfftn", "fftn", "ifftn", "irfft", "rfft")


def main(argv=None):
    p = step_parser(__doc__)
    p.add_argument("--save", action="store_true")
    args = p.parse_args(argv)
    reuse_freed_memory()
    work = Path(tempfile.mkdtemp(prefix="resolvecryoem-fft-"))
    try:
        paths = write_speed_pair(args.n, work)
        params = DensityModificationParams(molecular_mass=64000, nproc=args.threads,
                                           box_before_analysis=args.boxed)
        rows, wall, cpu = count(paths, work / "out", params, min_size=args.n ** 3 // 8)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    text = report(rows, wall, cpu, args)
    print(text)
    if args.save:
        name = f"transforms_{args.n}{'_boxed' if args.boxed else ''}.md"
        (RESULTS / name).write_text(text + "\n")


def count(paths, out, params, min_size: int) -> tuple:
    """({step: [transforms, seconds in them, step seconds]}, run wall s, run CPU s)."""
    current, durations = ["start"], {}
    rows = collections.defaultdict(lambda: [0, 0.0, 0.0])
    originals = {name: getattr(scipy.fft, name) for name in COUNTED}

    def counted(name):
        def call(x, *a, **k):
            if getattr(x, "size", 0) < min_size:  # slices, kernels, 2-D pieces
                return originals[name](x, *a, **k)
            t = time.perf_counter()
            try:
                return originals[name](x, *a, **k)
            finally:
                # fourier.irfft's in-place inverse is two calls (ifftn over the first two
                # axes, then irfft over the last): one transform, counted on the first.
                row = rows[current[0]]
                row[0] += name != "irfft"
                row[1] += time.perf_counter() - t
        return call

    with tracking_steps(current, durations):
        for name in COUNTED:
            setattr(scipy.fft, name, counted(name))
        os.sync()  # the case's maps to disk first (as benchmarks/run.py measure_command)
        t, c = time.perf_counter(), os.times()
        try:
            pipeline.run(paths[0], paths[1], out, params, log=None)
        finally:
            for name, f in originals.items():
                setattr(scipy.fft, name, f)
        wall, c2 = time.perf_counter() - t, os.times()
    steps = {name: rows.get(name, [0, 0.0, 0.0]) for name in durations}  # in run order
    for name, seconds in durations.items():
        steps[name][2] = seconds
    steps.update({k: v for k, v in rows.items() if k not in steps})
    return steps, wall, (c2.user - c.user) + (c2.system - c.system)


def report(rows, wall, cpu, args) -> str:
    head = (f"# Transforms per step, {args.n}^3 {'boxed (default)' if args.boxed else 'whole box'}"
            f" (`python benchmarks/transforms.py {args.n}{' --boxed' if args.boxed else ''} "
            f"--threads {args.threads}`)\n\n"
            f"Run: {wall:.1f} s wall, {cpu:.1f} s CPU; load average {os.getloadavg()[0]:.1f} at "
            f"the end. Transforms: scipy.fft calls on arrays of at least an eighth of the input "
            f"box's voxels (both halves' cycles are under their own step names).\n")
    lines = [head, "| step | transforms | s in transforms | step s | s in the rest |",
             "|---|---|---|---|---|"]
    n_total = t_total = 0.0
    # In the order of the run (``rows`` holds the steps in the order they ended), each step
    # followed by what ran between it and the next one.
    order = [k for k in rows if not k.startswith("after ") and k != "start"]
    order = ["start"] + [x for k in order for x in (k, f"after {k}")]
    for step in order:
        if step not in rows:
            continue
        n, t_fft, t_step = rows[step]
        if (step.startswith("after ") or step == "start") and n == 0:
            continue
        rest = f"{t_step - t_fft:.1f}" if t_step else ""
        lines.append(f"| {step} | {n} | {t_fft:.1f} | {t_step:.1f} | {rest} |")
        n_total += n
        t_total += t_fft
    lines.append(f"| **all** | {int(n_total)} | {t_total:.1f} | {wall:.1f} (run) | "
                 f"{wall - t_total:.1f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
