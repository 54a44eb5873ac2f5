"""Resolution-dependent scaling of maps: half-map sharpening, overall B, anisotropy, final scaling.

All scale factors act on half spectra (see fourier.py) and are functions of spatial frequency
s in 1/A.  Amplitudes with an overall B fall as exp(-B s^2 / 4) (|F| ~ exp(-B sin^2(theta) /
lambda^2) with s = 2 sin(theta) / lambda).
"""
from __future__ import annotations

import numpy as np

from .fourier import Shells
from .fsc import power
from .parallel import map_slabs

# Shells coarser than this carry the overall shape of the molecule, not its B factor.
_B_FIT_LOW_RES_A = 8.0


def hold_low_resolution(scale: np.ndarray, shells: Shells,
                        d_A: float = _B_FIT_LOW_RES_A) -> np.ndarray:
    """A per-shell scale held at its value at ``d_A`` for all coarser shells (origin kept).

    Below about 8 A the shell amplitudes follow the molecule's overall shape, which varies
    several-fold between neighbouring shells; a scale that whitens them changes several-fold
    within a shell too (Shells.expand interpolates between shell centres) and distorts the
    low-resolution map: FSC(map, truth) at 26-44 A fell from 0.99 to 0.96 on a 72^3 1AKE case.
    Delivered maps keep the molecule's low-resolution shape (density modification itself
    works on whitened maps, which the benchmark showed it needs).
    """
    out = np.array(scale, dtype=np.float64, copy=True)
    low = (shells.s < 1.0 / d_A) & (np.arange(shells.n) > 0)
    if low.any() and (~low[1:]).any():
        first = int(np.argmax(~low & (np.arange(shells.n) > 0)))
        out[low] = out[first]
    return out


def shell_rms(F: np.ndarray, shells: Shells, threads: int = 1) -> np.ndarray:
    """Root-mean-square amplitude per shell."""
    return np.sqrt(np.maximum(power(F, shells, threads), 0.0))


def match_shell_rms(F: np.ndarray, rms_target: np.ndarray, shells: Shells,
                    threads: int = 1) -> np.ndarray:
    """F scaled in place, shell by shell, to the rms amplitudes ``rms_target``.

    Shells where F is zero (beyond the density-modification resolution the recombined map
    can be empty) take the factor of the nearest non-empty shell: their coefficients stay 0
    whatever the factor, but :meth:`Shells.expand` interpolates factors between shell
    centres, and rms_target / 0 would leak into the last non-empty shell and overflow (seen
    as an overflow warning in fsc.power on a 112x96x80 map).
    """
    rms = shell_rms(F, shells, threads)
    target = np.asarray(rms_target, dtype=np.float64)
    ok = rms > 1e-6 * max(float(target.max()), 1e-30)
    factor = np.zeros_like(target)
    if ok.any():
        idx = np.arange(len(rms))
        factor[ok] = target[ok] / rms[ok]
        factor[~ok] = np.interp(idx[~ok], idx[ok], factor[ok])  # ends: nearest valid
    def one(sl, work, v):
        F[sl] *= v
    shells.map_slabs(one, factor, threads=threads)  # no factor map of the whole spectrum
    return F


def fit_overall_b(rms: np.ndarray, shells: Shells, resolution_A: float) -> float:
    """Overall B (A^2) of a map from its shell rms amplitudes, by a Wilson-like fit.

    Fits ln rms(s) = c - B s^2 / 4 over the shells between 8 A and ``resolution_A``
    (ALGORITHM.md section 3: amplitudes fall as exp(-B s^2 / 4)).
    """
    sel = (shells.s >= 1.0 / _B_FIT_LOW_RES_A) & (shells.s <= 1.0 / resolution_A) & (rms > 0)
    if sel.sum() < 3:
        return 0.0
    slope = np.polyfit(shells.s[sel] ** 2, np.log(rms[sel]), 1)[0]
    return float(-4.0 * slope)


def anisotropy_correction(F: np.ndarray, shells: Shells, resolution_A: float,
                          max_samples: int = 400_000, seed: int = 0,
                          threads: int = 1) -> np.ndarray:
    """Factor (half-spectrum shape, float32) that removes the anisotropy of the amplitudes.

    Model: ln|F(s)|^2 = iso(|s|) - s^T U s / 2 with U a traceless symmetric tensor (A^2); the
    isotropic part is taken out by subtracting each shell's mean of ln|F|^2, and U is fitted by
    least squares over coefficients between 8 A and ``resolution_A``.  Returns exp(s^T U s / 4),
    which leaves the overall B unchanged.  The selection and the factor are made slab by slab
    on ``threads`` threads (no |s| grid or index of the whole spectrum).
    """
    fz, fy, fx = shells.freq
    lo, hi = 1.0 / _B_FIT_LOW_RES_A, 1.0 / resolution_A
    per_row = int(np.prod(shells.index.shape[1:]))

    def selected(sl):
        s = shells.s_slab(sl)
        return np.flatnonzero((s >= lo) & (s <= hi)) + sl.start * per_row

    idx = np.concatenate(map_slabs(selected, shells.slabs(), threads))
    if idx.size < 50:
        return np.ones(shells.index.shape, np.float32)
    if idx.size > max_samples:
        idx = np.random.default_rng(seed).choice(idx, max_samples, replace=False)
    amp2 = (F.real ** 2 + F.imag ** 2).ravel()[idx]
    ok = amp2 > 0
    idx, lnf = idx[ok], np.log(amp2[ok])
    shell = shells.index.ravel()[idx]
    mean_by_shell = np.bincount(shell, lnf, shells.n) / np.maximum(
        np.bincount(shell, minlength=shells.n), 1)
    y = lnf - mean_by_shell[shell]
    kz, ky, kx = np.unravel_index(idx, shells.index.shape)
    sz, sy, sx = fz.ravel()[kz], fy.ravel()[ky], fx.ravel()[kx]
    s2 = sz * sz + sy * sy + sx * sx
    # Traceless basis: xx-yy, yy-zz (diagonal), xy, xz, yz; centre each column per shell so
    # that only the anisotropic part is fitted.
    cols = [sx * sx - s2 / 3, sy * sy - s2 / 3, 2 * sx * sy, 2 * sx * sz, 2 * sy * sz]
    A = np.stack([c - (np.bincount(shell, c, shells.n) / np.maximum(
        np.bincount(shell, minlength=shells.n), 1))[shell] for c in cols], axis=1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    # ln|F|^2 = iso - s^T U s / 2; the fitted c1 (sx^2 - s^2/3) + c2 (sy^2 - s^2/3) is the
    # traceless diagonal (c1 - m, c2 - m, -m), m = (c1 + c2) / 3, of -U/2.
    c1, c2, cxy, cxz, cyz = coef
    m = (c1 + c2) / 3.0
    uxx, uyy, uzz = -2.0 * (c1 - m), -2.0 * (c2 - m), 2.0 * m
    uxy, uxz, uyz = -2.0 * cxy, -2.0 * cxz, -2.0 * cyz
    out = np.empty(shells.index.shape, np.float32)

    def factor(sl):
        z = fz[sl]
        quad = (uxx * fx * fx + uyy * fy * fy + uzz * z * z
                + 2 * uxy * fx * fy + 2 * uxz * fx * z + 2 * uyz * fy * z)
        out[sl] = np.exp(quad / 4.0)

    map_slabs(factor, shells.slabs(), threads)
    return out


def b_factor_scale(shells: Shells, b_A2: float) -> np.ndarray:
    """Per-shell amplitude factor exp(-B s^2 / 4)."""
    return np.exp(-b_A2 * shells.s ** 2 / 4.0)


def half_map_sharpening_scale(rms_avg: np.ndarray, shells: Shells, b_iso: float,
                              resolution_A: float, unsharpened: bool = False,
                              half_map_fsc: np.ndarray | None = None) -> np.ndarray:
    """Per-shell scale applied to both half maps before density modification.

    Default (half-map sharpening): scale(s) = target(s) / rms(s), target(s) =
    exp(-b_iso s^2 / 4), rms(s) the shell rms of the half-map average: every shell is brought
    to the amplitude of a map with overall B = b_iso (ALGORITHM.md section 3).  Unlike the
    sharpening of the final map there is no FSC_ref weighting here: the benchmark showed that
    weighting before density modification makes it worse at every resolution tested
    (1AKE 4.5 A: FSC(truth)=0.5 whole box 4.00 -> 3.77 A without it; 5ME2 3 A: 2.65 -> 2.54
    A), since flattening and the histograms then act on density whose shape the weighting
    distorted.
    ``unsharpened`` (density_modify_unsharpened_maps): only the overall B is changed to b_iso,
    exp(-(b_iso - B_map) s^2 / 4), keeping the map's own resolution dependence otherwise;
    with ``half_map_fsc``, shells finer than the resolution are brought down where their
    amplitude falls more slowly than exp(-b_iso s^2 / 4) x FSC_ref(s) (from its value at the
    resolution): maps a reconstruction already Wiener-filtered are left as they are.  Without that, half maps whose noise is not already
    filtered out beyond the resolution were density-modified as noise: the real-space
    variance of the map to dm_resolution (0.6 x resolution) is then the noise's, the solvent
    and molecule histograms coincide and the map-phasing maps had no correlation with the
    truth at any resolution (benchmark test case at 4 A: CC -0.3..0.1), so the option gave
    back the half-map average.
    The scale is normalised to keep the amplitudes of the shells below 8 A.
    """
    if unsharpened:
        b_map = fit_overall_b(rms_avg, shells, resolution_A)
        scale = b_factor_scale(shells, b_iso - b_map)
        if half_map_fsc is not None:
            # Beyond the resolution the amplitude may not fall more slowly than
            # exp(-b_iso s^2 / 4) x FSC_ref(s), from its value at the resolution.
            from .fsc import fsc_ref
            s_d = 1.0 / resolution_A
            ref = fsc_ref(half_map_fsc)
            amp = scale * rms_avg
            amp_d = float(np.interp(s_d, shells.s, amp))
            ref_d = max(float(np.interp(s_d, shells.s, ref)), 1e-6)
            cap = amp_d * np.exp(-b_iso * (shells.s ** 2 - s_d ** 2) / 4) * ref / ref_d
            beyond = (shells.s > s_d) & (amp > cap)
            scale = np.where(beyond, cap / np.where(rms_avg > 0, rms_avg, np.inf), scale)
    else:
        scale = b_factor_scale(shells, b_iso) / np.where(rms_avg > 0, rms_avg, np.inf)
    low = (shells.s > 0) & (shells.s < 1.0 / _B_FIT_LOW_RES_A)
    norm = np.mean(scale[low] * rms_avg[low]) / max(np.mean(rms_avg[low]), 1e-30) \
        if low.any() else scale[1]
    return scale / norm if norm > 0 else scale


def spectral_profile(shells: Shells) -> np.ndarray:
    """Per-shell radial amplitude profile of a typical macromolecule (spectral_scaling).

    Tabulated from the model density of a protein (``data/protein_spectrum.csv``) divided by
    its smooth Wilson-like fall-off, so it carries only the characteristic dip near 6 A and
    bump near 4.5 A; held constant beyond the table's 20-2 A range.
    """
    from importlib import resources
    text = (resources.files("resolvecryoem") / "data" / "protein_spectrum.csv").read_text()
    table = np.array([[float(v) for v in line.split(",")] for line in text.splitlines()
                      if line and not line.startswith("#")])
    return np.interp(shells.s, table[:, 0], table[:, 1])


def lowpass(shells: Shells, d_min_A: float, width_A: float | None = None,
            threads: int = 1) -> np.ndarray:
    """Soft low-pass (half-spectrum shape, float32): 1 below 1/d_min, cosine to 0 over a band.

    The band spans one shell width beyond 1/d_min unless ``width_A`` (in 1/s units: the band
    ends at 1/(d_min - width_A)) says otherwise; a soft edge avoids ripples in the map.
    Made slab by slab on ``threads`` threads.
    """
    s0 = 1.0 / d_min_A
    band = (shells.s[1] - shells.s[0]) * 2.0 if width_A is None else \
        1.0 / max(d_min_A - width_A, 1e-3) - s0
    out = np.empty(shells.index.shape, np.float32)

    def slab(sl):
        t = np.clip((shells.s_slab(sl) - s0) / band, 0.0, 1.0)
        out[sl] = 0.5 * (1.0 + np.cos(np.pi * t))

    map_slabs(slab, shells.slabs(), threads)
    return out


def final_scale(rms_final: np.ndarray, cc_ref: np.ndarray, rms_target: np.ndarray,
                shells: Shells, final_scale_with_fsc_ref: bool = True,
                geometric_scaling: bool = True, spectral_profile: np.ndarray | None = None
                ) -> np.ndarray:
    """Per-shell scale of the final map (ALGORITHM.md section 6, "Final scaling").

    The amplitude aimed at in each shell is CC_ref(s) x target(s) where target(s) is
    ``rms_target`` (the half-map-sharpened amplitudes); with ``geometric_scaling`` it moves
    part-way (geometric mean) toward flat amplitudes matching the low-resolution shells.
    Without ``final_scale_with_fsc_ref`` the CC_ref weighting is replaced by its square root
    (part-way between FSC-based sharpening and constant amplitudes, as the manual describes).
    ``spectral_profile`` (per shell, optional) multiplies the target by the radial profile of
    a typical macromolecule.
    """
    cc = np.clip(cc_ref, 0.0, 1.0)
    weight = cc if final_scale_with_fsc_ref else np.sqrt(cc)
    target = np.asarray(rms_target, dtype=np.float64)
    if geometric_scaling:
        low = (shells.s > 0) & (shells.s < 1.0 / _B_FIT_LOW_RES_A)
        flat = np.mean(target[low]) if low.any() else target[1]
        target = np.sqrt(np.maximum(target, 0.0) * flat)
    if spectral_profile is not None:
        target = target * spectral_profile
    return weight * target / np.where(rms_final > 0, rms_final, np.inf)
