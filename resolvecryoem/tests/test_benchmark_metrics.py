"""Benchmark metrics on cases with known answers."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.metrics import shell_deficit, truth_scores  # noqa: E402
from resolvecryoem.core.fourier import Shells, irfft, rfft  # noqa: E402


def _blob(n=40, seed=0):
    rng = np.random.default_rng(seed)
    z, y, x = np.indices((n, n, n))
    truth = np.zeros((n, n, n), np.float32)
    for c in rng.uniform(12, 28, size=(30, 3)):
        truth += np.exp(-((z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2) / 2.0)
    env = np.clip(truth / truth.max() * 5, 0, 1).astype(np.float32)
    return truth, env


def test_identical_map_scores_nyquist_and_cc_one():
    truth, env = _blob()
    sc = truth_scores(truth, truth, 1.0, env)
    assert sc["whole_0.5"] == pytest.approx(2.0, abs=0.1)
    assert np.allclose(sc["fsc_whole"][1:], 1.0, atol=1e-4)
    assert sc["cc_molecule"] == pytest.approx(1.0)


def test_pure_noise_scores_nothing():
    truth, env = _blob()
    noise = np.random.default_rng(1).standard_normal(truth.shape).astype(np.float32)
    sc = truth_scores(noise, truth, 1.0, env)
    assert sc["whole_0.5"] > 15.0
    assert abs(sc["cc_molecule"]) < 0.1


def test_shellwise_scaling_is_ignored():
    truth, env = _blob()
    noisy = truth + 0.3 * np.random.default_rng(2).standard_normal(truth.shape).astype(
        np.float32)
    sh = Shells.for_box(truth.shape, 1.0)
    scaled = irfft(rfft(noisy) * np.exp(-np.arange(sh.n) / 4.0)[sh.index], truth.shape)
    a, b = truth_scores(noisy, truth, 1.0, env), truth_scores(scaled, truth, 1.0, env)
    assert np.allclose(a["fsc_whole"], b["fsc_whole"], atol=1e-3)
    assert a["whole_0.5"] == pytest.approx(b["whole_0.5"], abs=0.01)


def test_shell_deficit_in_units_of_significance():
    count = np.array([1, 100, 400])
    d = shell_deficit(np.array([1.0, 0.5, 0.5]), np.array([1.0, 0.7, 0.5]), count)
    assert d[0] == 0 and d[2] == 0
    assert d[1] == pytest.approx(0.2 / (2 / np.sqrt(50)))
