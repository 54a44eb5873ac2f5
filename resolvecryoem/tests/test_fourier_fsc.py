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


def test_expand_matches_np_interp_between_shell_centres(monkeypatch):
    """The arithmetic interpolation equals np.interp over the shell centres (origin apart,
    clipped at the first centre below and constant beyond the last) at the same float32
    positions |s| / width - 1/2, value for value after rounding to float32, on boxes of
    several slabs, odd and even edges, and with 2 shells."""
    import resolvecryoem.core.fourier as fourier
    monkeypatch.setattr(fourier, "SLAB_COEFFICIENTS", 1 << 12)
    for shape, n_shells in [((31, 36, 27), None), ((24, 21, 22), 2), ((30, 30, 30), 7),
                            ((12, 1, 10), None)]:
        sh = Shells.for_box(shape, (1.1, 1.0, 1.3), n_shells)
        t = np.random.default_rng(3).standard_normal(sh.n) * 5
        x = np.clip(sh.s_grid / (sh.s[1] - sh.s[0]) - 0.5, 1.0, None)
        assert x.dtype == np.float32
        want = np.interp(x, np.arange(sh.n), t).astype(np.float32)
        want.flat[0] = t[0]
        got = sh.expand(t)
        assert got.dtype == np.float32
        assert np.array_equal(got, want)
        slabs = np.empty_like(got)
        for sl, v in sh.expand_slabs(t):
            slabs[sl] = v
        assert np.array_equal(slabs, got)


def test_threaded_shell_work_equals_unthreaded(monkeypatch):
    """Sums, expansions and the slab-wise products give the same numbers on 1 and 3 threads
    (partial sums added in slab order), and the same as one product at a time."""
    import resolvecryoem.core.fourier as fourier
    from resolvecryoem.core.fsc import cov, moments, power
    from resolvecryoem.core.recombination import half_weights, recombine
    from resolvecryoem.core.sharpening import match_shell_rms, shell_rms
    monkeypatch.setattr(fourier, "SLAB_COEFFICIENTS", 1 << 12)
    shape = (36, 32, 30)
    sh = Shells.for_box(shape, 1.2)
    O1, O2, n1, n2 = (rfft(_noise(shape, k)) for k in range(4))
    D1, D2 = 0.6 * O1 + n1, 0.6 * O2 + n2
    t = np.random.default_rng(5).random(sh.n)
    one = moments([(O1, O2), (O1, None), (D1, O2)], sh, 1)
    assert np.array_equal(one, moments([(O1, O2), (O1, None), (D1, O2)], sh, 3))
    assert np.array_equal(one[0], cov(O1, O2, sh)) and np.array_equal(one[1], power(O1, sh))
    assert np.array_equal(fsc(O1, O2, sh), fsc(O1, O2, sh, 3))
    assert np.array_equal(sh.sum(np.abs(O1), 1), sh.sum(np.abs(O1), 3))
    assert np.array_equal(sh.expand(t, 1), sh.expand(t, 3))
    w1, w3 = half_weights(O1, O2, D1, sh, {}, 1), half_weights(O1, O2, D1, sh, {}, 3)
    assert np.array_equal(w1.w_o, w3.w_o) and np.array_equal(w1.w_d, w3.w_d)
    C1, C3 = w1.apply(O1, D1, sh, 1), w3.apply(O1, D1, sh, 3)
    assert np.array_equal(C1, C3)
    rms = shell_rms(O1, sh)
    assert np.array_equal(match_shell_rms(C1, rms, sh, 1), match_shell_rms(C3, rms, sh, 3))
    r1, r3 = recombine(O1, O2, D1, D2, sh, threads=1), recombine(O1, O2, D1, D2, sh, threads=3)
    assert np.array_equal(r1.F, r3.F) and np.array_equal(r1.full.w_d, r3.full.w_d)


def test_sum_products_equals_plain_shell_sums_for_odd_and_even_boxes(monkeypatch):
    """The products of rows ky and -ky are added before the shell sums: the same sums as
    summing every coefficient (Shells.sum of Re(A conj B)) on boxes with odd and even y."""
    import resolvecryoem.core.fourier as fourier
    monkeypatch.setattr(fourier, "SLAB_COEFFICIENTS", 1 << 11)
    for shape in [(20, 21, 18), (19, 22, 17), (9, 1, 8), (6, 2, 6)]:
        sh = Shells.for_box(shape, 1.0)
        A, B = rfft(_noise(shape, 7)), rfft(_noise(shape, 8))
        # the same float32 products, summed coefficient by coefficient
        plain = sh.sum(A.real * B.real + A.imag * B.imag)
        scale = sh.sum(np.abs(A.real * B.real) + np.abs(A.imag * B.imag))
        assert np.all(np.abs(sh.sum_products(A, B) - plain) <= 1e-12 * scale)
        power = sh.sum(A.real * A.real + A.imag * A.imag)
        assert np.allclose(sh.sum_products(A), power, rtol=1e-12, atol=0)
