"""Baseline methods the benchmark compares against, on the same half maps.

- average: (h1 + h2) / 2.
- relion_like: FSC_ref-weighted average with B-factor sharpening (what RELION postprocess
  does without a mask).
- floor: solvent flipping in a hard local-rms mask (same solvent fraction as our run) plus the
  recombination of ALGORITHM.md section 6: what density modification must beat.
- masked_average: the average times the soft molecule mask our run uses.
- user_masked_average: the average times a mask a user could make from it (low-pass 15 A,
  threshold at the level enclosing the molecular volume, extended 3 A, soft edge 6 A).
- perfect_flattening: the average times a tight soft mask made from the true model (1 within
  3 A of an atom, cosine to 0 over 4 A): flattening with a perfect mask.
"""
from __future__ import annotations

import numpy as np

from resolvecryoem.core.fourier import Shells, irfft, rfft
from resolvecryoem.core.fsc import fsc, fsc_ref, resolution_at
from resolvecryoem.core.masking import local_rms, probabilistic_mask
from resolvecryoem.core.recombination import recombine
from resolvecryoem.core.sharpening import b_factor_scale, fit_overall_b, shell_rms


def average(h1, h2, voxel, **_):
    return 0.5 * (h1 + h2)


def relion_like(h1, h2, voxel, **_):
    shells = Shells.for_box(h1.shape, voxel)
    F1, F2 = rfft(h1), rfft(h2)
    half = fsc(F1, F2, shells)
    d = resolution_at(half, shells, 0.143)
    avg = 0.5 * (F1 + F2)
    b = fit_overall_b(shell_rms(avg, shells), shells, d)
    scale = fsc_ref(half) * b_factor_scale(shells, -b)
    return irfft(avg * shells.expand(scale), h1.shape)


def floor(h1, h2, voxel, solvent_fraction, **_):
    """Solvent flipping of each half map + four-map recombination (the floor to beat)."""
    shells = Shells.for_box(h1.shape, voxel)
    F1, F2 = rfft(h1), rfft(h2)
    d = resolution_at(fsc(F1, F2, shells), shells, 0.143)
    avg = 0.5 * (h1 + h2)
    lrms = local_rms(avg, shells, 2.0 * d)
    molecule = probabilistic_mask(lrms, solvent_fraction) >= 0.5
    f = 1.0 - molecule.mean()
    D = []
    for h in (h1, h2):
        mu = float(h[~molecule].mean())
        flipped = np.where(molecule, h, mu - (h - mu) * (1 - f) / f).astype(np.float32)
        D.append(rfft(flipped))
    rec = recombine(F1, F2, D[0], D[1], shells)
    return irfft(rec.F, h1.shape)


def masked_average(h1, h2, voxel, mask, **_):
    return 0.5 * (h1 + h2) * mask


def user_mask(avg, voxel, molecular_volume_A3, lowpass_A=15.0, extend_A=3.0, soft_A=6.0):
    """Threshold-based soft mask from a map, as users make them (RELION-style)."""
    from scipy import ndimage
    shells = Shells.for_box(avg.shape, voxel)
    # Gaussian low-pass with amplitude 1/e at 1/lowpass_A.
    lp = irfft(rfft(avg) * np.exp(-(shells.s_grid * lowpass_A) ** 2).astype(np.float32),
               avg.shape)
    n_in = int(np.clip(molecular_volume_A3 / float(np.prod(np.broadcast_to(voxel, 3))), 1,
                       lp.size - 1))
    level = np.partition(lp.ravel(), lp.size - n_in)[lp.size - n_in]
    dist = ndimage.distance_transform_edt(lp < level, sampling=np.broadcast_to(voxel, 3))
    t = np.clip((dist - extend_A) / soft_A, 0.0, 1.0)
    return (0.5 * (1.0 + np.cos(np.pi * t))).astype(np.float32)


def user_masked_average(h1, h2, voxel, molecular_volume_A3, **_):
    avg = 0.5 * (h1 + h2)
    return avg * user_mask(avg, voxel, molecular_volume_A3)


def perfect_flattening(h1, h2, voxel, truth_mask, **_):
    return 0.5 * (h1 + h2) * truth_mask
