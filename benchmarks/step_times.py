"""Wall and CPU seconds and peak resident memory per pipeline step of one command-line run.

    python benchmarks/step_times.py HALF_MAP_1 HALF_MAP_2 [command-line options]

Runs ``resolvecryoem`` (the same arguments) in this process.  Each progress line is printed
with the peak resident memory since the previous line (VmHWM, reset after each line through
/proc/self/clear_refs: Linux only) and the process's CPU time; a table per step follows.  On a
shared machine wall times are noisy: run the code to compare and its baseline back to back
(PYTHONPATH) and compare CPU seconds too.  Resetting VmHWM also resets what /usr/bin/time
reports as the maximum resident size: the table's largest peak is the run's.  The code run is
the resolvecryoem that PYTHONPATH (or the installed package) gives, so one copy of this script
times any checkout: ``cd CHECKOUT && PYTHONPATH=$PWD python .../step_times.py ...``.
"""
from __future__ import annotations

import builtins
import re
import sys
import time


def _status() -> dict:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(("VmHWM", "VmRSS")):
                key, value = line.split(":")
                out[key] = int(value.split()[0]) // 1024
    return out


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def main(argv=None) -> int:
    from resolvecryoem import cli
    lines = []  # (peak MB since the previous line, CPU s, text)
    plain_print = builtins.print

    def log(*args, **kwargs):
        peak, cpu = _status()["VmHWM"], time.process_time()
        text = " ".join(str(a) for a in args)
        lines.append((peak, cpu, text))
        plain_print(f"[peak {peak:6d} MB cpu {cpu:7.1f} s]", text, flush=True)
        _reset_peak()

    builtins.print = log  # the command line prints its progress lines with print
    wall = time.perf_counter()
    try:
        rc = cli.main(argv)
    finally:
        builtins.print = plain_print
    wall = time.perf_counter() - wall
    peak_end = _status()["VmHWM"]
    steps, started, order = {}, {}, []
    for peak, cpu, text in lines:
        for s in started.values():
            s[1] = max(s[1], peak)
        text = re.sub(r"^\[\s*[\d.]+ s\] ", "", text)
        done = re.match(r"(.*) done \(([\d.]+) s\)$", text)
        if done:
            name = done.group(1)
            cpu0, p = started.pop(name, (cpu, peak))
            w, c, pk = steps.get(name, (0.0, 0.0, 0))
            steps[name] = (w + float(done.group(2)), c + cpu - cpu0, max(pk, p, peak))
            if name not in order:
                order.append(name)
        elif text.endswith(" ..."):
            started[text[:-4]] = [cpu, 0]
    print(f"{'step':50s}{'wall s':>8s}{'CPU s':>8s}{'peak MB':>9s}")
    for name in order:
        w, c, p = steps[name]
        print(f"{name[:50]:50s}{w:8.1f}{c:8.1f}{p:9d}")
    peak = max([p for p, _, _ in lines] + [peak_end])
    print(f"{'whole run':50s}{wall:8.1f}{time.process_time():8.1f}{peak:9d}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
