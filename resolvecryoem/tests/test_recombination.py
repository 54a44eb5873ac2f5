"""Error model and recombination on simulated errors with a known truth (ALGORITHM.md 6)."""
import numpy as np
import pytest

from resolvecryoem.core.fourier import Shells, rfft
from resolvecryoem.core.fsc import cov, fsc, power
from resolvecryoem.core.recombination import recombine


def _maps(n=40, a=0.8, b=0.3, m=0.7, c=0.5, seed=0):
    rng = np.random.default_rng(seed)
    r = lambda: rfft(rng.standard_normal((n, n, n)).astype(np.float32))  # noqa: E731
    S, n1, n2, m1, m2, cc = (r() for _ in range(6))
    O1, O2 = S + n1, S + n2
    D1 = a * S + b * n1 + m * m1 + c * cc
    D2 = a * S + b * n2 + m * m2 + c * cc
    return S, O1, O2, D1, D2, Shells.for_box((n, n, n), 1.0)


def _cc(X, S, sh):
    sel = slice(2, None)
    return np.mean((cov(X, S, sh) / np.sqrt(power(X, sh) * power(S, sh)))[sel])


def test_recombined_map_beats_average_and_its_accuracy_is_predicted():
    S, O1, O2, D1, D2, sh = _maps()
    rec = recombine(O1, O2, D1, D2, sh)
    cc_avg = _cc(0.5 * (O1 + O2), S, sh)
    cc_f = _cc(rec.F, S, sh)
    assert cc_f > cc_avg + 0.02
    assert np.mean(rec.full.cc_ref[2:]) == pytest.approx(cc_f, abs=0.01)


def test_joint_estimate_no_worse_than_average_of_halves():
    S, O1, O2, D1, D2, sh = _maps(seed=1)
    rec = recombine(O1, O2, D1, D2, sh)
    assert _cc(rec.F, S, sh) >= _cc(0.5 * (rec.C1 + rec.C2), S, sh) - 0.002


def test_fsc_of_modified_halves_overstates_accuracy_but_model_does_not():
    S, O1, O2, D1, D2, sh = _maps(seed=2, c=0.8)
    rec = recombine(O1, O2, D1, D2, sh)
    true_cc = _cc(rec.C1, S, sh)
    naive = np.mean(np.sqrt(np.clip(fsc(rec.C1, rec.C2, sh)[2:], 0, 1)))
    assert naive > true_cc + 0.02          # the correlated error inflates FSC(C1, C2)
    assert np.mean(rec.half[0].cc_ref[2:]) == pytest.approx(true_cc, abs=0.01)


def test_useless_map_phasing_maps_get_no_weight():
    rng = np.random.default_rng(4)
    S, O1, O2, _, _, sh = _maps(seed=3)
    noise = lambda: rfft(rng.standard_normal((40,) * 3).astype(np.float32))  # noqa: E731
    rec = recombine(O1, O2, noise(), noise(), sh)
    assert np.all(np.abs(rec.full.w_d[2:]) < 0.1)
    assert _cc(rec.F, S, sh) == pytest.approx(_cc(0.5 * (O1 + O2), S, sh), abs=0.01)
