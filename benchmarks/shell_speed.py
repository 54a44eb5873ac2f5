"""Seconds per call of the shell machinery (sums, expansions, recombination weights), this
checkout against a git revision, run alternately in one process.

    python benchmarks/shell_speed.py HALF_MAP_1 HALF_MAP_2 --base REV [--repeats 3]

The revision's ``resolvecryoem`` package is extracted (git archive) to a temporary directory
and imported under another name, so old and new code run on the same spectra, one after the
other, ``--repeats`` times; the table gives the fastest wall and CPU time of each (the machine
may be shared: CPU times and minima are the figures to compare).  "new tN": this checkout on
N threads.  D stands for a map-phasing map (0.8 O1 + 0.2 O2).
"""
import argparse
import io
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np


def import_revision(rev: str, where: str):
    """The package ``resolvecryoem`` at git revision ``rev``, importable as ``rc_base``."""
    repo = Path(__file__).resolve().parents[1]
    tar = subprocess.run(["git", "-C", str(repo), "archive", rev, "resolvecryoem"],
                         capture_output=True, check=True).stdout
    tarfile.open(fileobj=io.BytesIO(tar)).extractall(where)
    (Path(where) / "resolvecryoem").rename(Path(where) / "rc_base")
    sys.path.insert(0, where)
    import rc_base.core.fourier
    import rc_base.core.fsc
    import rc_base.core.recombination
    import rc_base.core.sharpening
    return rc_base.core


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("half_maps", nargs=2)
    p.add_argument("--base", required=True, help="git revision to compare with")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    a = p.parse_args()
    from resolvecryoem.core import fourier, fsc, mapio, recombination, sharpening
    with tempfile.TemporaryDirectory() as tmp:
        old = import_revision(a.base, tmp)
        m1, info = mapio.read_map(a.half_maps[0])
        m2 = mapio.read_map(a.half_maps[1])[0]
        vs, shape = info.voxel_size, m1.shape
        O1, O2 = fourier.rfft(m1, 2), fourier.rfft(m2, 2)
        D = (0.8 * O1 + 0.2 * O2).astype(np.complex64)
        so, sn = old.fourier.Shells.for_box(m1.shape, vs), fourier.Shells.for_box(m1.shape, vs)
        del m1, m2
        rms = old.sharpening.shell_rms(O1, so)
        fix_o, fix_n = {}, {}
        w_o = old.recombination.half_weights(O1, O2, D, so, fix_o)
        w_n = recombination.half_weights(O1, O2, D, sn, fix_n)
        C = w_o.apply(O1, D, so)
        cases = {
            "Shells.for_box": (lambda: old.fourier.Shells.for_box(shape, vs),
                               lambda t: fourier.Shells.for_box(shape, vs)),
            "half_weights (a cycle)": (
                lambda: old.recombination.half_weights(O1, O2, D, so, fix_o),
                lambda t: recombination.half_weights(O1, O2, D, sn, fix_n, t)),
            "Weights.apply": (lambda: w_o.apply(O1, D, so),
                              lambda t: w_n.apply(O1, D, sn, t)),
            "match_shell_rms": (lambda: old.sharpening.match_shell_rms(C, rms, so),
                                lambda t: sharpening.match_shell_rms(C, rms, sn, t)),
            "shell_rms (power)": (lambda: old.sharpening.shell_rms(O1, so),
                                  lambda t: sharpening.shell_rms(O1, sn, t)),
            "cov": (lambda: old.fsc.cov(O1, O2, so), lambda t: fsc.cov(O1, O2, sn, t)),
            "fsc": (lambda: old.fsc.fsc(O1, O2, so), lambda t: fsc.fsc(O1, O2, sn, t)),
            "recombine (weights)": (
                lambda: old.recombination.recombine(O1, O2, D, D, so),
                lambda t: recombination.recombine(O1, O2, D, D, sn, threads=t)),
            "Shells.expand": (lambda: so.expand(rms), lambda t: sn.expand(rms, t)),
        }
        labels = ["old"] + [f"new t{t}" for t in a.threads]
        print(f"box {shape}, {a.repeats} repeats; fastest wall / CPU seconds per call")
        print("| function | " + " | ".join(labels) + " |")
        print("|---" * (len(labels) + 1) + "|")
        for name, (f_old, f_new) in cases.items():
            runs = {k: [] for k in labels}
            for _ in range(a.repeats):
                for label in labels:
                    f = f_old if label == "old" else (
                        lambda t=int(label[5:]): f_new(t))
                    t0, c0 = time.perf_counter(), time.process_time()
                    f()
                    runs[label].append((time.perf_counter() - t0, time.process_time() - c0))
            cells = [f"{min(w for w, _ in r):.3f} / {min(c for _, c in r):.3f}"
                     for r in runs.values()]
            print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
