"""What each stage command asks of a machine or a queue job: wall time and peak memory.

    python benchmarks/stage_resources.py [--boxes 96 192] [--threads 1]

For each box size, simulates half maps of the bundled model (example_case), then runs
``python -m resolvecryoem.stages prepare | half 1 | half 2 | finish`` one after the other as
separate processes (as queue jobs run them) and reports each one's wall time and peak resident
memory (the stage prints it from getrusage).  The README's cluster section quotes this table.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

from resolvecryoem.core.simulate import example_case


def run_stage(args, threads):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "resolvecryoem.stages"] + args,
                         capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"stage {args[0]} failed:\n{out.stderr}")
    mem = float(re.search(r"peak memory (\d+) MB", out.stdout).group(1))
    return wall, mem


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--boxes", type=int, nargs="+", default=[96, 192])
    p.add_argument("--threads", type=int, default=1, help="FFT threads per stage (--nproc)")
    a = p.parse_args()
    print(f"| box | stage ({a.threads} FFT thread(s)) | wall time (s) | peak memory (MB) |")
    print("|---|---|---|---|")
    for box in a.boxes:
        with tempfile.TemporaryDirectory() as tmp:
            case = example_case(tmp, box=box, resolution_A=4.0, seed=1)
            out = os.path.join(tmp, "out")
            state = os.path.join(out, ".state")
            stages = [("prepare", ["prepare", str(case.paths["half_map_1"]),
                                   str(case.paths["half_map_2"]), "--output-dir", out,
                                   "--seq-file", str(case.paths["sequence"]),
                                   "--nproc", str(a.threads)]),
                      ("half 1", ["half", state, "1"]), ("half 2", ["half", state, "2"]),
                      ("finish", ["finish", state])]
            for name, args in stages:
                wall, mem = run_stage(args, a.threads)
                print(f"| {box}^3 | {name} | {wall:.1f} | {mem:.0f} |", flush=True)


if __name__ == "__main__":
    main()
