"""Benchmark metrics on cases with known answers."""
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks.metrics import sharpening_scores, shell_deficit, truth_scores  # noqa: E402
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


def test_sharpening_scores_see_what_fsc_does_not():
    """A noisy map: over-sharpened it scores amplitude ratios above 1 and a lower CC than
    scaled to the Wiener ideal, which scores ratios of 1 and the ideal CC."""
    truth, env = _blob()
    shells = Shells.for_box(truth.shape, 1.0)
    rng = np.random.default_rng(2)
    T = rfft(truth)
    noisy = irfft(T + rfft(rng.standard_normal(truth.shape).astype(np.float32)) *
                  np.float32(0.05) * shells.expand(1 + 20 * shells.s ** 2), truth.shape)
    sc = sharpening_scores(noisy, truth, 1.0, env, marks_A=(4.0, 3.0))
    sharp = irfft(rfft(noisy) * shells.expand(np.exp(10 * shells.s ** 2)), truth.shape)
    ss = sharpening_scores(sharp, truth, 1.0, env, marks_A=(4.0, 3.0))
    assert ss["ratio_3"] > 1.5 * sc["ratio_3"]
    assert ss["cc_box"] < sc["cc_box"] <= sc["cc_box_ideal"] + 1e-6
    assert ss["cc_box_ideal"] == pytest.approx(sc["cc_box_ideal"], abs=1e-4)
    wiener = irfft(rfft(noisy) * shells.expand(
        np.clip(np.nan_to_num(np.array(sc["ratio_curve"])), 1e-6, None) ** -1), truth.shape)
    sw = sharpening_scores(wiener, truth, 1.0, env, marks_A=(4.0, 3.0))
    # Not exactly 1: Shells.expand interpolates the per-shell factors between shell centres.
    assert sw["log2_ratio_rms"] < 0.15 and sw["ratio_3"] == pytest.approx(1.0, abs=0.2)
