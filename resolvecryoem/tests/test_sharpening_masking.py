"""Sharpening (overall B, anisotropy, final scaling) and solvent masks on known inputs."""
import numpy as np
import pytest

from resolvecryoem.core import fourier
from resolvecryoem.core.fourier import Shells, irfft, rfft, frequencies
from resolvecryoem.core.masking import local_rms, probabilistic_mask, sphere_kernel_spectrum
from resolvecryoem.core.sharpening import (anisotropy_correction, b_factor_scale,
                                           final_scale, fit_overall_b,
                                           half_map_sharpening_scale, shell_rms)


def _white(n=48, seed=0):
    rho = np.random.default_rng(seed).standard_normal((n, n, n)).astype(np.float32)
    return rho, Shells.for_box(rho.shape, 1.0)


def test_fit_overall_b_recovers_a_known_b():
    rho, sh = _white()
    F = rfft(rho) * sh.expand(b_factor_scale(sh, 80.0))
    assert fit_overall_b(shell_rms(F, sh), sh, 2.5) == pytest.approx(80.0, abs=5.0)


def test_half_map_sharpening_imposes_the_target_b():
    rho, sh = _white(seed=1)
    F = rfft(rho) * sh.expand(b_factor_scale(sh, 120.0))
    scale = half_map_sharpening_scale(shell_rms(F, sh), sh, b_iso=30.0, resolution_A=2.5)
    sharpened = F * sh.expand(scale)
    assert fit_overall_b(shell_rms(sharpened, sh), sh, 2.5) == pytest.approx(30.0, abs=5.0)
    unsharp = half_map_sharpening_scale(shell_rms(F, sh), sh, b_iso=30.0, resolution_A=2.5,
                                        unsharpened=True)
    out = F * sh.expand(unsharp)
    assert fit_overall_b(shell_rms(out, sh), sh, 2.5) == pytest.approx(30.0, abs=8.0)


def test_anisotropy_is_removed_without_changing_overall_b(monkeypatch):
    rho, sh = _white(seed=2)
    fz, fy, fx = frequencies(rho.shape, (1.0, 1.0, 1.0))
    aniso = np.exp(-(60 * fx * fx - 30 * fy * fy - 30 * fz * fz) / 4).astype(np.float32)
    F = rfft(rho) * aniso
    fixed = F * anisotropy_correction(F, sh, 2.5)
    def directional(G, axis):
        sel = [np.abs(f) > 0.25 for f in (fz, fy, fx)]
        others = [np.abs(f) < 0.05 for f in (fz, fy, fx)]
        m = sel[axis] & others[(axis + 1) % 3] & others[(axis + 2) % 3]
        return np.sqrt(np.mean(np.abs(G[np.broadcast_to(m, G.shape)]) ** 2))
    before = directional(F, 2) / directional(F, 0)
    after = directional(fixed, 2) / directional(fixed, 0)
    assert before < 0.6
    assert after == pytest.approx(1.0, abs=0.15)
    # made slab by slab on threads (small slabs: several per thread): the same factor
    monkeypatch.setattr(fourier, "SLAB_COEFFICIENTS", 1000)
    assert len(sh.slabs()) > 3
    assert np.array_equal(anisotropy_correction(F, sh, 2.5, threads=3),
                          anisotropy_correction(F, sh, 2.5))


def test_final_scale_follows_cc_and_target():
    _, sh = _white(32)
    rms = np.linspace(2.0, 1.0, sh.n)
    cc = np.linspace(1.0, 0.0, sh.n)
    target = b_factor_scale(sh, 20.0)
    k = final_scale(rms, cc, target, sh, geometric_scaling=False)
    assert np.allclose((k * rms)[1:], (cc * target)[1:])
    k_sqrt = final_scale(rms, cc, target, sh, final_scale_with_fsc_ref=False,
                         geometric_scaling=False)
    assert np.all(k_sqrt[1:-1] >= k[1:-1])


def test_sphere_kernel_is_a_normalised_ball():
    _, sh = _white(40)
    delta = np.zeros((40, 40, 40), np.float32)
    delta[0, 0, 0] = 1
    ball = irfft(rfft(delta) * sphere_kernel_spectrum(sh, 6.0), delta.shape)
    assert ball.sum() == pytest.approx(1.0, abs=1e-4)
    assert ball[0, 0, 3] > 0.5 * ball[0, 0, 0] and abs(ball[0, 0, 10]) < 0.05 * ball[0, 0, 0]


def test_probabilistic_mask_marks_the_molecule_with_the_right_volume():
    rng = np.random.default_rng(3)
    n = 48
    z, y, x = np.indices((n, n, n))
    inside = (z - 24) ** 2 + (y - 20) ** 2 + (x - 28) ** 2 < 10 ** 2
    rho = (0.2 * rng.standard_normal((n, n, n)) + inside * rng.standard_normal((n, n, n))
           ).astype(np.float32)
    sh = Shells.for_box(rho.shape, 1.0)
    f = 1 - inside.mean()
    pm = probabilistic_mask(local_rms(rho, sh, 3.0), f)
    assert pm.mean() == pytest.approx(1 - f, abs=0.01)
    assert pm[inside].mean() > 0.8 and pm[~inside].mean() < 0.05


def test_spectral_profile_has_the_protein_dip_and_bump():
    from resolvecryoem.core.sharpening import spectral_profile
    sh = Shells.for_box((96, 96, 96), 0.8)
    p = spectral_profile(sh)
    at = lambda d: p[np.argmin(np.abs(sh.s - 1 / d))]  # noqa: E731
    assert at(6.3) < at(4.6)          # the alpha-helix dip and the 4.5 A bump
    assert np.all(p > 0) and np.all(np.isfinite(p))


def test_match_shell_rms_leaves_empty_shells_empty_and_leaks_nothing():
    from resolvecryoem.core.fourier import Shells, rfft
    from resolvecryoem.core.sharpening import match_shell_rms, shell_rms, lowpass
    shells = Shells.for_box((24, 28, 32), 1.0)
    rng = np.random.default_rng(0)
    F = rfft(rng.standard_normal((24, 28, 32)).astype(np.float32))
    F *= lowpass(shells, 3.0)          # empty beyond ~3 A
    target = np.linspace(10.0, 1.0, shells.n)
    out = match_shell_rms(F.copy(), target, shells)
    got = shell_rms(out, shells)
    full = shell_rms(F, shells) > 0.5 * shell_rms(F, shells)[1:5].mean()
    full[0] = False
    assert np.allclose(got[full][1:-1], target[full][1:-1], rtol=0.1)
    assert np.all(np.isfinite(out)) and got.max() < 2 * target.max()
    assert np.all(got[shell_rms(F, shells) == 0] == 0)


def test_masked_rfft_is_the_transform_of_the_product_to_the_bit():
    from resolvecryoem.core.masking import masked_rfft
    rng = np.random.default_rng(3)
    for shape in ((32, 32, 32), (21, 30, 17)):
        rho = rng.standard_normal(shape).astype(np.float32)
        mask = rng.random(shape, dtype=np.float32)
        for threads in (1, 2):
            assert np.array_equal(masked_rfft(rho, mask, threads), rfft(rho * mask))


def test_mask_threshold_and_quartiles_are_numpys_quantiles():
    from resolvecryoem.core.masking import _threshold_and_quartiles_below
    rng = np.random.default_rng(4)
    big = 600_000  # more than the sample the order statistics are bracketed from
    ties = np.concatenate([np.full(3000, -69.0), rng.standard_normal(1000)])  # lrms 0: tied
    for x in (rng.standard_normal((20, 30, 17)), np.round(rng.standard_normal(4096), 1),
              ties, np.full(512, 2.0), np.full(1, 3.0), rng.standard_normal(big),
              np.where(rng.random(big) < 0.6, -69.0, rng.standard_normal(big)),
              np.round(3 * rng.standard_normal(big)), np.sort(rng.exponential(size=big))):
        x = x.astype(np.float32)
        for f in (0.01, 0.3, 0.5, 0.75, 0.995):
            t = np.quantile(x, f)
            below = x[x <= t]
            expected = (t, *np.quantile(below, [0.25, 0.75]))
            got = _threshold_and_quartiles_below(x, f)
            assert got == expected and [type(v) for v in got] == [type(v) for v in expected]


def test_flatten_solvent_and_smooth_on_threads_are_the_plain_formulas():
    from resolvecryoem.core.masking import flatten_solvent, smooth, sphere_kernel_spectrum
    rng = np.random.default_rng(5)
    rho, sh = _white(24, seed=5)
    mask = rng.random(rho.shape, dtype=np.float32)
    w = 1.0 - mask
    mu = np.sum(w * rho, dtype=np.float64) / np.sum(w, dtype=np.float64)
    expected = mask * rho + w * np.float32(mu)
    for threads in (1, 2):
        assert np.array_equal(flatten_solvent(rho, mask, threads), expected)
        assert np.array_equal(smooth(rho, sh, 3.0, threads),
                              irfft(rfft(rho) * sphere_kernel_spectrum(sh, 3.0), rho.shape))
    lrms = local_rms(rho, sh, 3.0)
    assert np.array_equal(lrms, np.sqrt(np.maximum(smooth(
        (rho - np.float32(rho.mean(dtype=np.float64))) ** 2, sh, 3.0), 0)))
    assert np.array_equal(local_rms(rho.copy(), sh, 3.0, 2, overwrite=True), lrms)
    assert np.array_equal(probabilistic_mask(lrms, 0.7, threads=2),
                          probabilistic_mask(lrms.copy(), 0.7, overwrite=True))
