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
