"""Scores against a known truth (maps made from models): the measure of quality we trust.

FSC(map, truth) per shell does not change with shell-wise sharpening, so it compares maps
whatever their resolution dependence (ALGORITHM.md section 8).  Scored over the whole box and
inside a soft molecular envelope: flattening the solvent wins the whole-box score by itself,
only real density modification improves the inside.
"""
from __future__ import annotations

import numpy as np

from .fourier import Shells, rfft
from .fsc import fsc, resolution_at


def fsc_against_truth(rho: np.ndarray, truth: np.ndarray, voxel_size, envelope=None,
                      threads: int = 1):
    """(shells, FSC(rho, truth)); with ``envelope`` both maps are multiplied by it first."""
    if envelope is not None:
        rho, truth = rho * envelope, truth * envelope
    shells = Shells.for_box(rho.shape, voxel_size)
    return shells, fsc(rfft(rho, threads), rfft(truth, threads), shells)


def resolution_against_truth(rho, truth, voxel_size, envelope=None, threshold: float = 0.5,
                             threads: int = 1) -> float:
    """Resolution (A) where FSC(rho, truth) falls below ``threshold`` (0.5 by default)."""
    shells, curve = fsc_against_truth(rho, truth, voxel_size, envelope, threads)
    return resolution_at(curve, shells, threshold)
