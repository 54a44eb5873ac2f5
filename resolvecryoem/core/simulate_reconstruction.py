"""Half maps made the way a single-particle reconstruction makes them (tests and benchmark).

Noisy, CTF-modulated projections of a model's density are taken at random views, with small
alignment errors (the orientation and origin used for insertion differ from the true ones),
optionally from several conformations of a flexible periphery, and optionally masked by a
soft circular particle mask (as refinement programs do).  The particles are split into two
halves and each half is reconstructed by Fourier insertion with CTF weighting and a Wiener
term (``sum c X / (sum c^2 + sigma_F^2 / P(s))``), on a grid padded 2x and corrected for the
gridding kernel.  The noise of such maps is coloured (denser sampling near the origin of
Fourier space, CTF zeros, Wiener filter) and, with a particle mask, non-stationary; the signal
loses high resolution to the alignment errors and, in the periphery, to flexibility.

Everything is vectorised: views are processed in chunks, projections are central slices of the
padded 3-D transform (central-slice theorem, trilinear interpolation after pre-correcting the
volume for it), insertion is nearest-neighbour into the padded grid by ``np.bincount``.
The noise level is chosen afterwards (insertion is linear in the noise) so that the half-map
FSC crosses 0.143 near the requested resolution.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import ndimage
from scipy.spatial.transform import Rotation

_WAVELENGTH_300KV_A = 0.019687


@dataclass
class Microscope:
    """CTF parameters: defocus range (A, underfocus positive), Cs (mm), amplitude contrast,
    and the signal's own fall-off B (A^2, radiation damage, motion, detector)."""

    defocus_A: tuple = (8000.0, 25000.0)
    cs_mm: float = 2.7
    amplitude_contrast: float = 0.07
    b_signal: float = 60.0


def ctf(s2: np.ndarray, defocus_A: np.ndarray, scope: Microscope) -> np.ndarray:
    """CTF(s) = -(sqrt(1 - A^2) sin chi + A cos chi), chi = pi lambda df s^2 - pi/2 Cs lambda^3 s^4
    (s^2 in 1/A^2, per view defocus broadcast along the first axis)."""
    lam = _WAVELENGTH_300KV_A
    cs = scope.cs_mm * 1e7
    chi = np.pi * lam * defocus_A * s2 - 0.5 * np.pi * cs * lam ** 3 * s2 * s2
    a = scope.amplitude_contrast
    return -(np.sqrt(1 - a * a) * np.sin(chi) + a * np.cos(chi))


def _sinc(x):
    return np.sinc(x)  # sin(pi x) / (pi x)


def _padded_spectrum(vol: np.ndarray) -> np.ndarray:
    """3-D FFT of the volume zero-padded 2x, origin at the box centre, pre-divided by the
    real-space apodisation of trilinear interpolation (sinc^2 per axis)."""
    n = vol.shape[0]
    m = 2 * n
    big = np.zeros((m, m, m), np.float32)
    lo = n // 2
    big[lo:lo + n, lo:lo + n, lo:lo + n] = vol
    x = (np.arange(m) - m // 2) / m
    c = _sinc(x) ** 2
    big /= (c[:, None, None] * c[None, :, None] * c[None, None, :]).astype(np.float32)
    return scipy.fft.fftn(np.fft.ifftshift(big)).astype(np.complex64)


def _flexible_models(model, n_conformers, flex_deg, fraction, rng):
    """Copies of the model whose periphery (the ``fraction`` of atoms farthest along a random
    direction) is turned by a random rotation of about ``flex_deg`` about its hinge."""
    from .model_map import read_model
    st = read_model(model)
    atoms = [a for ch in st[0] for r in ch for a in r]
    xyz = np.array([a.pos.tolist() for a in atoms])
    u = rng.normal(size=3)
    u /= np.linalg.norm(u)
    proj = (xyz - xyz.mean(0)) @ u
    cut = np.quantile(proj, 1 - fraction)
    moving = proj > cut
    hinge = xyz[np.abs(proj - cut) < 3.0].mean(0)
    import gemmi
    out = []
    for _ in range(n_conformers):
        rot = Rotation.from_rotvec(rng.normal(size=3) * np.radians(flex_deg) / np.sqrt(3))
        new = xyz.copy()
        new[moving] = rot.apply(xyz[moving] - hinge) + hinge
        c = st.clone()
        k = 0
        for ch in c[0]:
            for r in ch:
                for a in r:
                    a.pos = gemmi.Position(*new[k])
                    k += 1
        out.append(c)
    return out, moving


@dataclass
class ReconstructionCase:
    half_map_1: np.ndarray
    half_map_2: np.ndarray
    noise_sigma: float
    n_particles: int


def reconstruct_half_maps(model, shape, voxel_A: float, start_A, resolution_A: float,
                          n_particles: int = 3000, angle_error_deg: float = 1.0,
                          shift_error_A: float = 0.5, scope: Microscope | None = None,
                          particle_mask: float | None = 0.85, noise_colour: float = 0.0,
                          flexible_deg: float = 0.0, flexible_fraction: float = 0.3,
                          n_conformers: int = 6, seed: int = 0, chunk: int = 150
                          ) -> ReconstructionCase:
    """Two half maps of ``model`` (file or gemmi Structure) on the grid (shape, voxel, start),
    reconstructed from ``n_particles`` noisy projections (split in two halves).

    ``angle_error_deg`` / ``shift_error_A``: rms alignment errors per particle.
    ``particle_mask``: diameter of a soft circular mask applied to every image, as a fraction
    of the box (None: no mask, stationary noise).  ``noise_colour``: extra image-noise power at
    low resolution, ``1 + noise_colour exp(-(s / 0.1)^2)`` relative to white (ice, carbon).
    ``flexible_deg``: each particle shows one of ``n_conformers`` copies whose periphery
    (``flexible_fraction`` of the atoms) is turned by about that angle.
    The image-noise level is chosen so that the half-map FSC crosses 0.143 near
    ``resolution_A``.  Deterministic for a seed.
    """
    from .model_map import model_density
    scope = scope or Microscope()
    rng = np.random.default_rng(seed)
    n = int(shape[0])
    if tuple(shape) != (n, n, n):
        raise ValueError("reconstruct_half_maps needs a cubic box")
    m = 2 * n
    if flexible_deg > 0:
        models, _ = _flexible_models(model, n_conformers, flexible_deg, flexible_fraction, rng)
    else:
        models = [model]
    spectra = [_padded_spectrum(model_density(mo, shape, voxel_A, start_A)) for mo in models]

    # Images are padded 2x like the volume (as reconstruction programs pad them), so their
    # transforms sample the padded 3-D grid at its own spacing.  Only the half plane
    # kx > 0 (and kx = 0, ky >= 0) inside Nyquist is used: the other half follows from
    # Friedel symmetry of the 3-D grid at the end.
    k = np.fft.fftfreq(m)
    ky, kx = np.meshgrid(k, k, indexing="ij")
    s2_img = (kx ** 2 + ky ** 2) / voxel_A ** 2
    envelope = np.exp(-scope.b_signal * s2_img / 4).astype(np.float32)
    colour = np.sqrt(1 + noise_colour * np.exp(-s2_img / 0.01)).astype(np.float32) \
        if noise_colour else None
    inside = (kx ** 2 + ky ** 2 <= 0.25) & ((kx > 0) | ((kx == 0) & (ky >= 0)))
    pts2 = np.stack([kx[inside], ky[inside], np.zeros(inside.sum())], axis=1)  # x, y, z
    # Noise lives in the n x n image (times the particle mask), zero in the padding.
    yy, xx = np.meshgrid(np.arange(m) - m // 2, np.arange(m) - m // 2, indexing="ij")
    img_mask = ((np.abs(yy) < n // 2 + n % 2) & (np.abs(xx) < n // 2 + n % 2)).astype(
        np.float32)
    if particle_mask:
        r = np.hypot(yy, xx) / (0.5 * particle_mask * n)
        img_mask *= 0.5 * (1 + np.cos(np.pi * np.clip((r - 0.9) / 0.1, 0, 1)))
    img_mask = np.fft.ifftshift(img_mask).astype(np.float32)

    views = Rotation.random(n_particles, random_state=rng.integers(1 << 31))
    errors = Rotation.from_rotvec(rng.normal(size=(n_particles, 3))
                                  * np.radians(angle_error_deg) / np.sqrt(3))
    assigned = views * errors
    shifts = rng.normal(size=(n_particles, 2)) * shift_error_A / np.sqrt(2) / voxel_A
    defocus = rng.uniform(*scope.defocus_A, size=n_particles)
    conformer = rng.integers(len(spectra), size=n_particles)
    half = np.arange(n_particles) % 2

    size = m ** 3
    acc = [dict(sig=np.zeros(size, np.complex64), noi=np.zeros(size, np.complex64),
                den=np.zeros(size, np.float32)) for _ in range(2)]
    for c0 in range(0, n_particles, chunk):
        idx = np.arange(c0, min(c0 + chunk, n_particles))
        # True and assigned 3-D frequencies of every image point (x, y, z, cycles/voxel).
        rt = views[idx].as_matrix()            # (b, 3, 3)
        ra = assigned[idx].as_matrix()
        q_t = np.einsum("bij,pj->bpi", rt, pts2)
        q_a = np.einsum("bij,pj->bpi", ra, pts2)
        coords = (q_t[..., ::-1] * m).reshape(-1, 3).T  # z, y, x in padded grid units
        slices = np.zeros((len(idx), len(pts2)), np.complex64)
        for j, F in enumerate(spectra):
            sel = conformer[idx] == j
            if not sel.any():
                continue
            cs = coords.reshape(3, len(idx), -1)[:, sel].reshape(3, -1)
            re = ndimage.map_coordinates(F.real, cs, order=1, mode="grid-wrap")
            im = ndimage.map_coordinates(F.imag, cs, order=1, mode="grid-wrap")
            slices[sel] = (re + 1j * im).reshape(sel.sum(), -1)
        # Origin error: a phase ramp, exp(-2 pi i k . d).
        phase = np.exp(-2j * np.pi * (pts2[None, :, 0] * shifts[idx, None, 0]
                                      + pts2[None, :, 1] * shifts[idx, None, 1]))
        c = ctf(s2_img[inside][None, :], defocus[idx, None], scope).astype(np.float32)
        sig = slices * phase * c * envelope[inside][None, :]
        noi = _image_noise(len(idx), m, inside, colour, img_mask, rng)
        # Nearest-neighbour insertion at the assigned orientation, CTF-weighted (trilinear
        # insertion gave the same maps within 0.1 A at 5x the time).
        g = np.rint(q_a * m).astype(np.int64) % m  # (b, p, 3) x, y, z
        flat = (g[..., 2] * m + g[..., 1]) * m + g[..., 0]
        for h in (0, 1):
            sel = half[idx] == h
            if not sel.any():
                continue
            f = flat[sel].ravel()
            cc = np.broadcast_to(c, sig.shape)[sel].ravel()
            a = acc[h]
            for key, val in (("sig", sig[sel].ravel() * cc), ("noi", noi[sel].ravel() * cc)):
                a[key] += np.bincount(f, val.real, size) + 1j * np.bincount(f, val.imag, size)
            a["den"] += np.bincount(f, cc * cc, size)
    # Friedel mates of the inserted half planes.
    for a in acc:
        for key in ("sig", "noi", "den"):
            g = a[key].reshape(m, m, m)
            mate = np.roll(g[::-1, ::-1, ::-1], 1, axis=(0, 1, 2))
            g += np.conj(mate) if np.iscomplexobj(g) else mate

    # Wiener term sigma_F^2 / P(s): P from the signal spectrum (with envelope, without CTF)
    # per shell of the padded grid; sigma_F^2 the image-noise power per coefficient.
    fz = np.fft.fftfreq(m)
    s_grid = np.sqrt(fz[:, None, None] ** 2 + fz[None, :, None] ** 2 + fz[None, None, :] ** 2)
    shell = np.minimum((s_grid * m).astype(np.int64), m // 2).ravel()
    env3 = np.exp(-scope.b_signal * (s_grid / voxel_A) ** 2 / 4).ravel()
    p_sig = np.bincount(shell, np.abs(spectra[0].ravel() * env3) ** 2) / np.maximum(
        np.bincount(shell), 1)
    noise_power = float(np.sum(img_mask ** 2))
    inv_p = (noise_power / np.maximum(p_sig, 1e-30))[shell]

    x = (np.arange(m) - m // 2) / m
    corr = _sinc(x)  # nearest-neighbour gridding: real-space apodisation sinc per axis
    corr3 = (corr[:, None, None] * corr[None, :, None] * corr[None, None, :])
    lo_ = n // 2

    def crop(V):
        vol = np.fft.fftshift(scipy.fft.ifftn(V.reshape(m, m, m)).real)
        return np.ascontiguousarray((vol / corr3)[lo_:lo_ + n, lo_:lo_ + n, lo_:lo_ + n],
                                    dtype=np.float32)

    # Noise level: with the Wiener term held at sigma_w, each half map is A + sigma B
    # (signal and noise parts reconstructed separately), so the FSC of the cropped maps in the
    # shell at the resolution is a closed function of sigma; a few rounds update sigma_w.
    from .fourier import Shells, rfft
    shells = Shells.for_box(shape, voxel_A)
    ring = shells.index == int(np.argmin(np.abs(shells.s - 1.0 / resolution_A)))

    def c(u, v):
        return float(np.real(np.vdot(v, u)))

    sigma = 1.0
    for _ in range(4):
        parts = []
        for a in acc:
            den = a["den"] + sigma ** 2 * inv_p
            ok = a["den"] > 0
            parts.append([crop(np.where(ok, a[key] / np.maximum(den, 1e-30), 0))
                          for key in ("sig", "noi")])
        (A1, B1), (A2, B2) = [[rfft(v)[ring] for v in p] for p in parts]

        def fsc_at(sg):
            num = c(A1, A2) + sg * (c(A1, B2) + c(B1, A2)) + sg * sg * c(B1, B2)
            p1 = c(A1, A1) + 2 * sg * c(A1, B1) + sg * sg * c(B1, B1)
            p2 = c(A2, A2) + 2 * sg * c(A2, B2) + sg * sg * c(B2, B2)
            return num / np.sqrt(p1 * p2)

        lo, hi = -12.0, 12.0
        for _ in range(60):
            mid = 0.5 * (lo + hi)
            if fsc_at(np.exp(mid)) > 0.143:
                lo = mid
            else:
                hi = mid
        sigma_new = float(np.exp(0.5 * (lo + hi)))
        maps = [pa + np.float32(sigma_new) * pb for pa, pb in parts]
        converged = abs(np.log(sigma_new / sigma)) < 0.02
        sigma = sigma_new
        if converged:
            break
    return ReconstructionCase(maps[0], maps[1], sigma, n_particles)


def _image_noise(b, m, inside, colour, mask, rng):
    """Half-plane Fourier coefficients (b, points) of b padded m x m noise images: white
    Gaussian of unit variance per pixel (coloured by ``colour`` in Fourier space, if given),
    times the real-space image ``mask`` (box of the unpadded image, particle mask)."""
    noise = rng.standard_normal((b, m, m), dtype=np.float32)
    if colour is not None:
        noise = scipy.fft.ifft2(scipy.fft.fft2(noise) * colour).real.astype(np.float32)
    return scipy.fft.fft2(noise * mask)[:, inside]
