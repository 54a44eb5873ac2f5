"""Reconstruction-like half maps and the parts of density modification that non-stationary
noise needs: the simulator, the local noise scale, the likelihood step on normalised maps,
the solvent histogram, the final solvent flattening."""
import numpy as np
import pytest

from resolvecryoem.core.fourier import Shells, rfft
from resolvecryoem.core.fsc import fsc, resolution_at
from resolvecryoem.core.histograms import density_histograms, flat_histogram
from resolvecryoem.core.likelihood import map_phasing
from resolvecryoem.core.masking import (final_solvent_mask, flatten_solvent, noise_scale,
                                        normalise_noise)
from resolvecryoem.core.model_map import atom_positions, model_density
from resolvecryoem.core.simulate import bundled_model
from resolvecryoem.core.simulate_reconstruction import reconstruct_half_maps


@pytest.fixture(scope="module")
def recon():
    model = bundled_model()
    xyz = atom_positions(model)
    n, voxel, res = 48, 1.5, 4.5
    start = (0.5 * (xyz.max(0) + xyz.min(0)))[::-1] - 0.5 * n * voxel
    h1, h2 = (lambda r: (r.half_map_1, r.half_map_2))(reconstruct_half_maps(
        model, (n, n, n), voxel, start, res, n_particles=800, seed=4))
    truth = model_density(model, (n, n, n), voxel, start)
    return h1, h2, truth, voxel, res


def test_reconstruction_like_half_maps_reach_the_requested_resolution(recon):
    h1, h2, truth, voxel, res = recon
    shells = Shells.for_box(h1.shape, voxel)
    d = resolution_at(fsc(rfft(h1), rfft(h2), shells), shells, 0.143)
    assert abs(d - res) < 0.15 * res
    # the common signal is the model's: the average correlates with the truth where the
    # half maps agree, and each half map carries its own noise
    avg_fsc = fsc(rfft(0.5 * (h1 + h2)), rfft(truth), shells)
    assert np.all(avg_fsc[1:np.searchsorted(shells.s, 1 / 10.0)] > 0.85)
    assert np.corrcoef(h1.ravel(), h2.ravel())[0, 1] < 0.99


def test_noise_scale_follows_the_local_noise_level():
    rng = np.random.default_rng(0)
    n = 48
    noise = rng.standard_normal((n, n, n)).astype(np.float32)
    noise[:, :, n // 2:] *= 3.0
    pm = np.zeros_like(noise)
    pm[:, :, 8:16] = 1.0  # the "molecule" sits in the quiet half, away from its edges
    shells = Shells.for_box(noise.shape, 1.0)
    s = noise_scale(noise, pm, shells, 4.0)
    assert np.median(s[:, :, 6:18]) == pytest.approx(1.0, abs=0.1)
    assert np.median(s[:, :, 30:42]) == pytest.approx(3.0, rel=0.1)
    flat = normalise_noise(noise, s, 0.0)
    assert flat[:, :, 30:42].std() == pytest.approx(flat[:, :, 6:18].std(), rel=0.15)


def test_likelihood_step_flattens_quiet_and_noisy_solvent_alike():
    """Gaussian noise whose level changes 4x across the solvent, flat molecule histogram:
    with the local noise scale the step shrinks the solvent by the same factor in quiet and
    noisy solvent; without it the noisy solvent is hardly flattened."""
    rng = np.random.default_rng(1)
    n = 40
    level = np.ones((n, n, n), np.float32)
    level[:, :, n // 2:] = 4.0
    rho = (rng.standard_normal((n, n, n)) * level).astype(np.float32)
    pm = np.zeros_like(rho)
    pm[16:24, 16:24, 6:14] = 1.0
    shells = Shells.for_box(rho.shape, 1.0)
    keep = np.ones(shells.s_grid.shape, np.float32)
    F = rfft(rho)
    slopes = {}
    for label, scale in (("scaled", noise_scale(rho, pm, shells, 5.0)), ("plain", None)):
        hist_rho = rho if scale is None else normalise_noise(rho, scale, 0.0)
        solvent, molecule = density_histograms(hist_rho, pm, 1e-3)
        D, _ = map_phasing(F, rho, pm, solvent, flat_histogram(molecule), keep,
                           noise_scale=scale)
        out = np.fft.irfftn(D, rho.shape)
        for side, sl in (("quiet", np.s_[:, :, 2:5]), ("noisy", np.s_[:, :, 24:36])):
            x, y = rho[sl].ravel(), out[sl].ravel()
            slopes[label, side] = float(np.dot(x, y) / np.dot(x, x))
    assert slopes["scaled", "quiet"] < 0.6
    assert slopes["scaled", "noisy"] == pytest.approx(slopes["scaled", "quiet"], abs=0.1)
    assert slopes["plain", "noisy"] - slopes["plain", "quiet"] > 0.3


def test_final_solvent_flattening_keeps_the_molecule_and_flattens_far_solvent():
    rng = np.random.default_rng(2)
    n = 40
    rho = rng.standard_normal((n, n, n)).astype(np.float32)
    pm = np.zeros_like(rho)
    pm[15:25, 15:25, 15:25] = 1.0
    shells = Shells.for_box(rho.shape, 1.0)
    mask = final_solvent_mask(pm, shells, 3.0)
    out = flatten_solvent(rho, mask)
    assert np.allclose(out[17:23, 17:23, 17:23], rho[17:23, 17:23, 17:23])
    far = out[:4, :4, :4]
    assert far.std() < 1e-5
    # the mask reaches beyond the molecule region
    assert mask[20, 20, 25 + 1] > 0.9 and mask[20, 20, 25 + 4] > 0.1
