"""Map-likelihood phasing: gradient against finite differences, flipping limit, R-value."""
import numpy as np
import pytest

from resolvecryoem.core.fourier import Shells, irfft, rfft
from resolvecryoem.core.histograms import DensityHistogram, density_histograms, flat_histogram
from resolvecryoem.core.likelihood import (gradient, likelihood_terms, log_likelihood,
                                           map_phasing, r_value)


def _gauss_hist(mu, sd, lo=-8.0, hi=8.0, n=4001):
    x = np.linspace(lo, hi, n)
    p = np.exp(-0.5 * ((x - mu) / sd) ** 2)
    return DensityHistogram(x, p / (p.sum() * (x[1] - x[0])))


def _setup(n=12, seed=0):
    rng = np.random.default_rng(seed)
    rho = rng.standard_normal((n, n, n)).astype(np.float32)
    pm = np.clip(rng.random((n, n, n)), 0.05, 0.95).astype(np.float32)
    return rho, pm, _gauss_hist(0.0, 0.7), _gauss_hist(0.3, 1.4)


@pytest.mark.parametrize("index", [(3, 2, 2), (3, 2, 0), (5, 1, 6), (0, 4, 6), (2, 5, 3)])
def test_gradient_matches_finite_differences(index):
    """(2/N) rfftn(g') inside the half spectrum, (1/N) on the kx = 0 and kx = N/2 planes."""
    rho, pm, hs, hm = _setup()
    F = rfft(rho).astype(np.complex128)
    G = gradient(rho, likelihood_terms(rho, pm, hs, hm))

    def ll(Fp):
        return log_likelihood(np.fft.irfftn(Fp, s=rho.shape).astype(np.float32), pm, hs, hm)

    eps = 0.05 * np.abs(F[index]) + 0.5
    for part, expected in ((1.0, G[index].real), (1j, G[index].imag)):
        Fp, Fm = F.copy(), F.copy()
        Fp[index] += eps * part
        Fm[index] -= eps * part
        numeric = (ll(Fp) - ll(Fm)) / (2 * eps)
        assert numeric == pytest.approx(expected, rel=0.03, abs=1e-3 * np.abs(G).max())


def test_gaussian_solvent_and_flat_molecule_is_solvent_flipping():
    rng = np.random.default_rng(1)
    n = 16
    rho = rng.standard_normal((n, n, n)).astype(np.float32)
    molecule = np.zeros((n, n, n), bool)
    molecule[4:10, 3:12, 5:11] = True
    pm = molecule.astype(np.float32)
    mu, sd = 0.2, 1.0
    hs = _gauss_hist(mu, sd, lo=-12, hi=12, n=8001)
    hm = flat_histogram(hs)
    f = 1.0 - molecule.mean()
    F = rfft(rho)
    keep = np.ones(F.shape, np.float32)
    D, _ = map_phasing(F, rho, pm, hs, hm, keep)
    flipped = np.where(molecule, rho, mu - (rho - mu) * (1 - f) / f)
    assert np.allclose(irfft(D, rho.shape), flipped, atol=0.02)


def test_map_phasing_is_limited_to_keep_region():
    rho, pm, hs, hm = _setup(16)
    F = rfft(rho)
    sh = Shells.for_box(rho.shape, 1.0)
    keep = (sh.s_grid < 0.25).astype(np.float32)
    D, _ = map_phasing(F, rho, pm, hs, hm, keep)
    assert np.all(D[keep == 0] == 0)
    assert np.any(D[keep == 1] != F[keep == 1])


def test_histograms_recover_regions_and_noise_broadening():
    rng = np.random.default_rng(2)
    n = 32
    pm = np.zeros((n, n, n), np.float32)
    pm[:, :, : n // 4] = 1.0
    rho = np.where(pm > 0, 2.0 + rng.standard_normal(pm.shape),
                   0.3 * rng.standard_normal(pm.shape)).astype(np.float32)
    hs, hm = density_histograms(rho, pm, added_noise_sd=0.4)
    assert hm.mean() == pytest.approx(2.0, abs=0.05)
    assert hs.mean() == pytest.approx(0.0, abs=0.02)
    # Solvent sd 0.3 convolved with N(0, 0.4^2): 0.5 (plus a little bin smoothing).
    assert np.sqrt(hs.variance()) == pytest.approx(0.5, abs=0.03)


def test_r_value_zero_for_proportional_and_one_for_orthogonal():
    rng = np.random.default_rng(3)
    F = (rng.standard_normal(1000) + 1j * rng.standard_normal(1000)).astype(np.complex64)
    sel = np.ones(F.shape, bool)
    assert r_value(F, 2.0 * F, sel) == pytest.approx(0.0, abs=1e-5)
    G = (rng.standard_normal(1000) + 1j * rng.standard_normal(1000)).astype(np.complex64)
    assert r_value(F, G, sel) > 0.9


def _plain_terms(rho, pm, hs, hm, s, tau, var):
    """g, g', g'' of likelihood_terms' docstring over the whole map at once (same float32
    operations, no pieces, no buffers)."""
    mu = np.float32(hs.mean())
    rw = mu + (rho - mu) / s
    ps, ps1, ps2 = hs.evaluate(rw)
    pm0, pm1, pm2 = hm.evaluate(rho)
    pm0, pm1, pm2 = pm0 * s, pm1 * (s * s), pm2 * (s * s * s)
    v = 1 - pm
    den = np.maximum(pm * pm0 + v * ps, np.float32(1e-30))
    g1 = (pm * pm1 + v * ps1) / den
    g2 = (pm * pm2 + v * ps2) / den - g1 * g1
    iv = np.float32(1) / var
    d = (rho - tau) * iv
    g = np.log(den) - pm * (rho - tau) * d * np.float32(0.5)
    return g, g1 - pm * (d * s), g2 - pm * (s * s * iv)


@pytest.mark.parametrize("threads", [1, 3])
def test_pieces_and_threads_give_the_whole_map_result(threads, monkeypatch):
    """Pieces (and blocks within them) of uneven size, on 1 or 3 threads: g and g' are those
    of the whole-map formula bit for bit, <g''> equal to rounding, and the threaded result is
    the unthreaded one exactly (each piece's sum is added in piece order)."""
    import resolvecryoem.core.likelihood as lik
    n = 20  # 8000 voxels: 4 pieces of 2304 (the last 1088), blocks of 1024
    rng = np.random.default_rng(4)
    rho = (1.5 * rng.standard_normal((n, n, n))).astype(np.float32)
    rho[0, 0, :3] = [40.0, -40.0, 1e6]  # beyond the histogram grid
    pm = np.clip(rng.random((n, n, n)), 0.0, 1.0).astype(np.float32)
    s = (0.8 + 0.4 * rng.random((n, n, n))).astype(np.float32)
    tau = rng.standard_normal((n, n, n)).astype(np.float32)
    var = (0.5 + rng.random((n, n, n))).astype(np.float32)
    hs, hm = _gauss_hist(0.1, 0.8, n=513), _gauss_hist(0.5, 1.5, lo=-6, hi=9, n=300)
    monkeypatch.setattr(lik, "CHUNK_VOXELS", 2304)
    monkeypatch.setattr(lik, "BLOCK_VOXELS", 1024)
    t = likelihood_terms(rho, pm, hs, hm, (tau, var), noise_scale=s, threads=threads)
    g, g1, g2 = _plain_terms(rho, pm, hs, hm, s, tau, var)
    assert np.array_equal(t.g, g) and np.array_equal(t.g1, g1)
    assert t.curvature == pytest.approx(float(np.mean(g2, dtype=np.float64)), rel=1e-6)
    one = likelihood_terms(rho, pm, hs, hm, (tau, var), noise_scale=s, threads=1)
    assert np.array_equal(t.g, one.g) and np.array_equal(t.g1, one.g1)
    assert t.curvature == one.curvature


def test_grid_position_refuses_nan():
    """A NaN has no grid position (cast to an index it would be garbage, far out of range)."""
    from resolvecryoem.core.histograms import grid_position
    hs = _gauss_hist(0.0, 1.0, lo=-1.0, hi=1.0, n=201)
    i, t = grid_position(np.array([-100.0, 0.25, 100.0], np.float32), hs.centres)
    assert list(i) == [0, 125, 199] and t[0] == 0 and t[2] == pytest.approx(0.9999, abs=1e-4)
    with pytest.raises(ValueError, match="NaN"):
        grid_position(np.array([0.0, np.nan], np.float32), hs.centres)


@pytest.mark.parametrize("threads", [1, 3])
def test_newton_step_in_slabs_is_the_whole_map_formula(threads, monkeypatch):
    """(F - rfftn(s g') / <g''>) keep, slab by slab on 1 or 3 threads, bit for bit."""
    import resolvecryoem.core.fourier as fourier
    from resolvecryoem.core.likelihood import LikelihoodTerms, newton_step
    monkeypatch.setattr(fourier, "SLAB_COEFFICIENTS", 300)  # slabs of 1 plane, some of 2
    rng = np.random.default_rng(5)
    n = 14
    g1 = rng.standard_normal((n, n, n)).astype(np.float32)
    s = (0.8 + 0.4 * rng.random((n, n, n))).astype(np.float32)
    F = rfft(rng.standard_normal((n, n, n)).astype(np.float32))
    keep = rng.random(F.shape).astype(np.float32)
    expected = rfft(g1 * s)
    expected *= np.float32(-1.0 / -3.5)
    expected += F
    expected *= keep
    D = newton_step(F, LikelihoodTerms(None, g1.copy(), -3.5), keep, threads, noise_scale=s)
    assert D.dtype == np.complex64 and np.array_equal(D, expected)
