"""Shells and FSC on signals whose answer is known."""
import numpy as np
import pytest

from resolvecryoem.core.fourier import Shells, irfft, rfft
from resolvecryoem.core.fsc import fsc, fsc_from_cc, fsc_ref, resolution_at


def _noise(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def test_shell_counts_cover_the_full_spectrum():
    for shape in [(32, 32, 32), (31, 32, 33), (24, 40, 30)]:
        sh = Shells.for_box(shape, (1.1, 1.2, 1.3))
        assert sh.count.sum() == pytest.approx(np.prod(shape))


def test_parseval_with_multiplicity():
    rho = _noise((20, 22, 24), 0)
    F = rfft(rho)
    sh = Shells.for_box(rho.shape, 1.0)
    total = sh.sum(np.abs(F) ** 2).sum() / rho.size
    assert total == pytest.approx(np.sum(rho.astype(np.float64) ** 2), rel=1e-4)


def test_fsc_identical_is_one_and_independent_noise_is_small():
    a, b = _noise((40,) * 3, 1), _noise((40,) * 3, 2)
    sh = Shells.for_box(a.shape, 1.0)
    Fa, Fb = rfft(a), rfft(b)
    assert np.allclose(fsc(Fa, Fa, sh), 1.0, atol=1e-5)
    c = fsc(Fa, Fb, sh)[2:]
    assert np.all(np.abs(c) < 4 * sh.significance()[2:])


def test_fsc_of_signal_plus_noise_matches_theory():
    # S + n_i with equal signal and noise power in every shell: FSC = 0.5.
    s, n1, n2 = (_noise((48,) * 3, k) for k in (3, 4, 5))
    sh = Shells.for_box(s.shape, 1.0)
    c = fsc(rfft(s + n1), rfft(s + n2), sh)
    assert np.mean(c[3:]) == pytest.approx(0.5, abs=0.02)


def test_fsc_ignores_shellwise_scaling():
    a = _noise((32,) * 3, 6)
    b = a + 0.5 * _noise((32,) * 3, 7)
    sh = Shells.for_box(a.shape, 1.0)
    Fa, Fb = rfft(a), rfft(b)
    scale = np.exp(-np.arange(sh.n) / 5.0)[sh.index]  # constant within each shell
    assert np.allclose(fsc(Fa * scale, Fb, sh), fsc(Fa, Fb, sh), atol=1e-4)


def test_resolution_at_interpolates_crossing():
    sh = Shells.for_box((40, 40, 40), 1.0)
    curve = np.clip(1.0 - sh.s / 0.4, 0, 1)  # crosses 0.5 at s = 0.2
    assert resolution_at(curve, sh, 0.5) == pytest.approx(5.0, rel=0.02)
    assert resolution_at(np.ones(sh.n), sh, 0.5) == pytest.approx(2.0 / (1 - 0.5 / sh.n),
                                                                  rel=0.05)


def test_fsc_ref_round_trip():
    f = np.linspace(0.01, 0.99, 20)
    assert np.allclose(fsc_from_cc(fsc_ref(f)), f)
    assert fsc_ref(np.array([0.143]))[0] == pytest.approx(0.5, abs=0.001)


def test_irfft_inverts_rfft_in_float32():
    a = _noise((17, 18, 19), 8)
    back = irfft(rfft(a), a.shape)
    assert back.dtype == np.float32
    assert np.allclose(back, a, atol=1e-5)
