"""Sweep of the defaults that the benchmark chose: dm_resolution_ratio and cycles.

    python benchmarks/sweep.py

Runs our method on the quick benchmark's stationary-noise cases (and 5ME2 at 3 A) and on two
reconstruction-like cases for each setting and prints FSC(map, truth) = 0.5 resolutions, whole
box and inside the envelope (lower is better).
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.metrics import truth_scores  # noqa: E402
from benchmarks.run import make_case, run_ours  # noqa: E402
from resolvecryoem.core.params import DensityModificationParams  # noqa: E402

SETTINGS = [dict(dm_resolution_ratio=r, cycles=3) for r in (0.6, 0.75, 0.9, 1.0)] + \
           [dict(dm_resolution_ratio=0.6, cycles=c) for c in (1, 2, 4)]


def main():
    recon = dict(kind="reconstruction")
    cases = [make_case("5me2", 3.0), make_case("5me2", 3.5), make_case("1ake", 4.5),
             make_case("5me2", 3.5, **recon), make_case("adk_1ake", 3.5, **recon)]
    cases = [c for c in cases if c is not None]
    header = "| setting | " + " | ".join(f"{c['name']} whole / envelope" for c in cases) + " |"
    lines = [header, "|---" * (len(cases) + 1) + "|"]
    work = Path(tempfile.mkdtemp(prefix="resolvecryoem-sweep-"))
    try:
        for s in SETTINGS:
            row = []
            for i, c in enumerate(cases):
                wd = work / f"{i}_{len(lines)}"
                wd.mkdir()
                p = DensityModificationParams(molecular_mass=c["mass"], **s)
                dm, *_ = run_ours(c, wd, p)
                sc = truth_scores(dm, c["truth"], c["voxel"], c["envelope"])
                row.append(f"{sc['whole_0.5']:.2f} / {sc['envelope_0.5']:.2f}")
            lines.append(f"| {', '.join(f'{k}={v}' for k, v in s.items())} | "
                         + " | ".join(row) + " |")
            print(lines[-1], flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
