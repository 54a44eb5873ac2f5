"""Units of work side by side in processes: every log line arrives, while the units run."""
import time

import pytest

from resolvecryoem.core.units import run_units


def _slow_unit(state, k, log=None, threads=None):
    log(f"unit {k} started")
    time.sleep(1.0)
    log(f"unit {k} done")


def _failing_unit(state, k, log=None, threads=None):
    if k == 2:
        raise ValueError(f"unit {k} failed in {state}")
    log(f"unit {k} done")


def test_lines_of_every_unit_arrive_while_the_units_run():
    seen = []
    t0 = time.monotonic()
    run_units(_slow_unit, "state", [(1,), (2,)], workers=2,
              log=lambda line: seen.append((time.monotonic() - t0, line)))
    assert sorted(line for _, line in seen) == ["unit 1 done", "unit 1 started",
                                                "unit 2 done", "unit 2 started"]
    started = [t for t, line in seen if "started" in line]
    done = [t for t, line in seen if "done" in line]
    assert max(started) < min(done)  # not held back until the units end


def test_a_failing_unit_raises_its_error():
    with pytest.raises(ValueError, match="unit 2 failed in here"):
        run_units(_failing_unit, "here", [(1,), (2,), (3,)], workers=2, log=None)
