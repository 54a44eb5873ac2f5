"""Progress lines and the run log: what was done, why, and how long it took."""
from __future__ import annotations

import time
from contextlib import contextmanager


class RunLog:
    """Collects log lines and per-step timings; echoes each line to ``echo`` (e.g. print).

    ``with log.step("solvent mask"):`` prints a progress line when the step starts and its
    duration when it ends, and records the duration in ``timings`` (seconds).
    """

    def __init__(self, echo=print):
        self.echo = echo or (lambda line: None)
        self.lines: list[str] = []
        self.timings: dict[str, float] = {}
        self.warnings: list[str] = []
        self._t0 = time.perf_counter()

    def __call__(self, message: str):
        line = f"[{time.perf_counter() - self._t0:7.1f} s] {message}"
        self.lines.append(line)
        self.echo(line)

    def warn(self, message: str):
        self.warnings.append(message)
        self(f"WARNING: {message}")

    @contextmanager
    def step(self, name: str):
        self(f"{name} ...")
        t = time.perf_counter()
        yield
        dt = time.perf_counter() - t
        self.timings[name] = self.timings.get(name, 0.0) + dt
        self(f"{name} done ({dt:.1f} s)")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"
