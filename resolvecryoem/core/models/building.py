"""Automatic model building into a map: main-chain traces, poly-alanine, pseudo-atoms.

ALGORITHM.md section 10.  The map is smoothed to about its resolution and put on a noise
scale; the threshold that encloses the molecular volume (from the residue count, 135 A^3 per
residue = 110 Da x 1.23 A^3/Da) or, without a count, a fixed height over the noise, says where
the molecule is.  Main chain: starting at the strongest unexplained density peaks, C-alpha
positions are placed 3.80 A apart along the density ridges by a walk that, at each step, takes
the direction (out of a dense set on the sphere) whose straight segment keeps the highest
density all along it, with a virtual C-alpha angle a protein allows and away from C-alpha
already placed; a walk stops where no such segment stays inside the densest 30% of the
molecular volume (where walks would cross between chain segments).  Stretches with helical
or extended virtual geometry become ideal helices or strands (:mod:`.secondary`).  Each trace then gets N, C, O and
C-beta from ideal geometry (:mod:`.ideal`) in the direction whose O and C-beta (and
side-chain side) sit on higher density.  The residue count bounds the number of residues built.
Optional pseudo-atoms: density peaks at least 1.5 A apart in molecule density that no chain
atom explains.

Coordinates: map arrays are (z, y, x); ``origin_A`` is the (z, y, x) model coordinate of
voxel [0, 0, 0] (``MapInfo.start_A``); atoms are written in x, y, z.
"""
from __future__ import annotations

import time

import gemmi
import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from . import ideal, secondary
from .structure import gemmi_chain_names

A3_PER_RESIDUE = 110.0 * 1.23   # molecular volume per residue (ALGORITHM.md section 10)
ATOMS_PER_A3 = 1.0 / 17.0        # non-hydrogen atoms per A^3 of protein
_EDGE_MARGIN_A = 3.0             # C-alpha this far inside the box keeps all atoms inside
_EXCLUDE_A = 3.4                 # closest approach of a new C-alpha to any placed one
_MIN_ANGLE, _MAX_ANGLE = 78.0, 150.0   # virtual C-alpha angle range (helix 91, strand 119)
_LOOKAHEAD = 3                   # coarse candidates examined one step further
_CORE_FRACTION = 0.3             # main-chain segments stay inside this fraction of the
                                 # molecular volume (its densest part)
_ORIENT_ATOMS = ("O", "CB")        # direction score: density at these atoms
_ORIENT_SIDE = 1                 # ... plus at 2.5 A along CA -> CB (0: without)
_NOISE_FLOOR = 4.0               # chain and pseudo-atoms only above this (noise sigmas)
_HELICES = 1                     # replace helical / extended stretches by ideal ones
_SEGMENT_FRACTIONS = np.array([0.2, 0.35, 0.5, 0.65, 0.8, 1.0])


def fibonacci_sphere(n: int) -> np.ndarray:
    """n near-uniform unit vectors (rows)."""
    k = np.arange(n) + 0.5
    z = 1.0 - 2.0 * k / n
    r = np.sqrt(1.0 - z * z)
    t = np.pi * (1.0 + 5 ** 0.5) * k
    return np.stack([z, r * np.sin(t), r * np.cos(t)], axis=1)  # any axis order: isotropic


class _Map:
    """Smoothed map on a noise scale with interpolation at A coordinates (z, y, x)."""

    def __init__(self, arr, voxel, origin):
        self.arr = arr
        self.voxel = voxel
        self.origin = origin
        self.lo = origin + _EDGE_MARGIN_A
        self.hi = origin + (np.array(arr.shape) - 1) * voxel - _EDGE_MARGIN_A

    def at(self, pts):
        idx = ((np.asarray(pts) - self.origin) / self.voxel).reshape(-1, 3).T
        v = ndimage.map_coordinates(self.arr, idx, order=1, mode="nearest")
        return v.reshape(np.shape(pts)[:-1])

    def inside(self, pts):
        return np.all((pts >= self.lo) & (pts <= self.hi), axis=-1)


def prepare_map(map_array, voxel_size_A, resolution_A):
    """The map smoothed by a Gaussian of sigma 0.2 d (noise beyond the resolution off),
    minus its median, over a robust noise sigma (1.4826 x median absolute deviation of the
    non-zero voxels, so masked maps work too)."""
    voxel = np.broadcast_to(np.asarray(voxel_size_A, dtype=np.float64), (3,))
    sm = ndimage.gaussian_filter(np.asarray(map_array, dtype=np.float32),
                                 sigma=0.2 * resolution_A / voxel, mode="nearest")
    vals = sm[sm != 0] if np.count_nonzero(sm) > 0.1 * sm.size else sm.ravel()
    med = float(np.median(vals))
    sigma = 1.4826 * float(np.median(np.abs(vals - med)))
    if not sigma > 0:
        sigma = float(vals.std()) or 1.0
    return ((sm - med) / sigma).astype(np.float32)


def residues_from_volume(molecular_volume_A3: float) -> int:
    """Residue bound for :func:`build_model` from a molecular volume (from a mass or a
    solvent fraction when there is no sequence): 135 A^3 per residue."""
    return int(molecular_volume_A3 / A3_PER_RESIDUE)


def otsu_threshold(values, bins=256) -> float:
    """Level that best splits values into two classes (Otsu 1979, IEEE Trans. SMC 9, 62:
    maximal between-class variance), from a histogram."""
    h, edges = np.histogram(values, bins)
    c = 0.5 * (edges[1:] + edges[:-1])
    w1 = np.cumsum(h)
    w2 = w1[-1] - w1
    m = np.cumsum(h * c)
    mu1 = m / np.maximum(w1, 1)
    mu2 = (m[-1] - m) / np.maximum(w2, 1)
    return float(c[np.argmax(w1 * w2 * (mu1 - mu2) ** 2)])


def supported_residues(z_map, voxel_size_A, smooth_A=3.0, sigma_level=4.0) -> int:
    """Residues the density supports without a sequence, at 135 A^3 each: the volume of the
    map smoothed by a ``smooth_A`` Gaussian above its Otsu split of molecule from solvent,
    but at most twice the volume above ``sigma_level`` noise sigmas (so that noise alone,
    which Otsu would split too, supports nothing).  On the benchmark's simulated 3-3.5 A maps
    this is 1.2-1.3x the true count on half-map averages and 0.75-0.8x on density-modified
    maps; prefer :func:`residues_from_volume` whenever a mass or solvent fraction is known."""
    voxel = np.broadcast_to(np.asarray(voxel_size_A, dtype=np.float64), (3,))
    voxel_vol = float(np.prod(voxel))
    sm = ndimage.gaussian_filter(z_map, smooth_A / voxel, mode="nearest")
    otsu = np.count_nonzero(sm > otsu_threshold(sm.ravel()))
    strong = np.count_nonzero(z_map > sigma_level)
    return int(min(otsu, 2 * strong) * voxel_vol / A3_PER_RESIDUE)


def molecule_threshold(z_map, voxel_size_A, n_residues) -> float:
    """Map level enclosing the molecular volume of ``n_residues`` (135 A^3 each)."""
    voxel_vol = float(np.prod(np.broadcast_to(voxel_size_A, (3,))))
    frac = min(0.9, n_residues * A3_PER_RESIDUE / (voxel_vol * z_map.size))
    return float(np.quantile(z_map, 1.0 - frac))


def _segment_scores(m: _Map, start, ends, floor):
    """Per candidate end: mean of the density along start->end, mean + min; -inf where the
    segment leaves the molecule (any sample below ``floor``)."""
    pts = start + _SEGMENT_FRACTIONS[:, None, None] * (ends - start)[None]
    v = m.at(pts)
    lo = v.min(axis=0)
    s = 0.5 * v.mean(axis=0) + 0.5 * lo
    return np.where(lo >= floor, s, -np.inf)


class _Tracer:
    def __init__(self, m: _Map, floor, scale, n_dirs=700, seed=0, lookahead=None):
        self.m = m
        self.floor = floor
        self.scale = max(abs(scale), 1e-6)
        self.lookahead = _LOOKAHEAD if lookahead is None else lookahead
        rng = np.random.default_rng(seed)
        # A random rotation of the direction set: the seed changes the sampling, not the logic.
        q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
        self.dirs = fibonacci_sphere(n_dirs) @ q.T
        self.dirs_ahead = fibonacci_sphere(n_dirs // 3) @ q.T
        fine = fibonacci_sphere(400)
        self.fine = fine[fine[:, 0] > np.cos(np.radians(9.0))]  # cap around +axis 0
        self.placed = np.empty((0, 3))

    def add(self, ca):
        """Register a built fragment: later C-alpha keep their distance from it."""
        self.placed = np.vstack([self.placed, ca])
        self._tree = cKDTree(self.placed)

    def _free(self, pts):
        """True where a point is at least _EXCLUDE_A from every C-alpha already built."""
        if len(self.placed) == 0:
            return np.ones(len(pts), bool)
        d, _ = self._tree.query(pts, distance_upper_bound=_EXCLUDE_A)
        return ~np.isfinite(d)

    def _scored(self, path, excl, dirs):
        """Candidates 3.8 A on from path[-1] along ``dirs`` and their scores (density along
        the segment over the molecule level); only allowed candidates are returned.  (A
        log prior on the virtual C-alpha angle and dihedral, favouring helix and strand
        values, was measured: no gain.)"""
        cur = path[-1]
        cand = cur + ideal.CA_CA * dirs
        # Box and virtual angle first, so that the map is sampled along allowed segments
        # only (the distance tests, dearer per candidate, go to the few left after that).
        ok = self.m.inside(cand)
        if len(path) >= 2:
            u = path[-2] - cur
            cosang = (dirs @ u) / np.linalg.norm(u)
            ang = np.degrees(np.arccos(np.clip(cosang, -1, 1)))
            ok &= (ang >= _MIN_ANGLE) & (ang <= _MAX_ANGLE)
        idx = np.flatnonzero(ok)
        score = _segment_scores(self.m, cur, cand[idx], self.floor)
        keep = np.isfinite(score)
        idx, score = idx[keep], score[keep]
        if len(idx) == 0:
            return cand[idx], score
        free = self._free(cand[idx])
        tr = np.asarray(excl).reshape(-1, 3)
        if len(tr):
            d2 = ((cand[idx][:, None] - tr[None]) ** 2).sum(-1).min(1)
            free &= d2 >= _EXCLUDE_A ** 2
        return cand[idx[free]], score[free] / self.scale

    def step(self, path, excl):
        """Best next C-alpha 3.8 A from path[-1] (None where the chain ends): the coarse
        candidate whose score plus its own best next step's is highest (one step of look
        ahead), refined on a fine cap of directions around it."""
        cand, sc = self._scored(path, excl, self.dirs)
        if len(cand) == 0:
            return None
        top = np.argsort(-sc, kind="stable")[:self.lookahead]
        if len(top) > 1:
            ahead = []
            for k in top:
                c2, s2 = self._scored(path[-2:] + [cand[k]], list(excl) + path[:-1],
                                      self.dirs_ahead)
                ahead.append(s2.max() if len(s2) else 0.0)
            best = top[int(np.argmax(sc[top] + np.array(ahead)))]
        else:
            best = top[0]
        d0 = (cand[best] - path[-1]) / ideal.CA_CA
        c_f, s_f = self._scored(path, excl, self.fine @ _rotation_to(d0).T)
        return c_f[np.argmax(s_f)] if len(c_f) else cand[best]

    def trace_from(self, seed_pt, max_len):
        first = self.step([seed_pt], [])
        if first is None:
            return np.array([seed_pt])
        fwd = [seed_pt, first]
        while len(fwd) < max_len:
            nxt = self.step(fwd[-3:], fwd[:-2])
            if nxt is None:
                break
            fwd.append(nxt)
        bwd = [fwd[1], fwd[0]]
        while len(fwd) + len(bwd) - 2 < max_len:
            nxt = self.step(bwd[-3:], fwd[2:] + bwd[:-2])
            if nxt is None:
                break
            bwd.append(nxt)
        return np.array(bwd[:1:-1] + fwd)


def _rotation_to(d):
    """Rotation matrix taking axis 0 (1, 0, 0) to unit vector d."""
    a = np.array([1.0, 0.0, 0.0])
    v = np.cross(a, d)
    c = float(a @ d)
    if np.linalg.norm(v) < 1e-9:
        return np.eye(3) if c > 0 else np.diag([-1.0, -1.0, 1.0])
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


def _seeds(z_map, voxel, origin, level):
    """Local maxima above ``level`` as (z, y, x) A positions, strongest first."""
    peaks = (z_map == ndimage.maximum_filter(z_map, size=3, mode="nearest")) & (z_map > level)
    idx = np.argwhere(peaks)
    order = np.argsort(-z_map[tuple(idx.T)], kind="stable")
    return origin + idx[order] * voxel


def _direction_score(m: _Map, ca_xyz) -> float:
    """Mean density at O and C-beta of a trace plus at 2.5 A along CA -> C-beta (where side
    chains go), the atoms built from the trace in its order.  (With N and C too, or without
    the side-chain point, about as many built residues got the wrong direction on the
    benchmark maps: 15-18% against 13-16%.)"""
    mc = ideal.main_chain_from_ca(ca_xyz)
    u = mc["CB"] - mc["CA"]
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    pts = [mc[k] for k in _ORIENT_ATOMS] + [mc["CA"] + 2.5 * u] * _ORIENT_SIDE
    return float(sum(m.at(p[:, ::-1]).mean() for p in pts))


def _orient(m: _Map, ca_zyx):
    """Main chain (x, y, z) of the trace in the direction the density prefers.

    The side-chain side of C-beta tells the direction: on true C-alpha traces of simulated
    3-3.5 A maps this score picks the right one for every 10-residue stretch (on built
    traces, whose C-alpha may sit between two true ones, less often: the benchmark counts
    wrong-direction fragments; scoring shifted copies of the trace did not help).
    Measured and not kept: refining both directions of every fragment and keeping the one
    whose refined atoms sit on more density halved the wrong-direction C-alpha on full
    density-modified maps (18% -> 9%, 1AKE and 5ME2) but raised it on the pipeline's
    half-map variants (29% -> 33-39%, 1AKE 3.5 A), and the map did not gain; a C-gamma on
    the staggered chi1 with most density left the pipeline's 1AKE 3.5 A map as it was
    (2.752 -> 2.749 A).
    Built in x, y, z: swapping the axis order is a mirror and would make D residues.
    """
    ca = ca_zyx[:, ::-1]
    scores = [_direction_score(m, trace) for trace in (ca, ca[::-1])]
    return ideal.main_chain_from_ca(ca if scores[0] >= scores[1] else ca[::-1])


def _pseudo_atoms(z_map, voxel, origin, level, built_xyz, n_max, spacing_A=1.5):
    """Peaks of the map above ``level``, at least ``spacing_A`` apart (maximum filter over a
    ball of that radius), more than 2 A from any built atom; at most ``n_max``, strongest
    first.  (z, y, x) A positions."""
    r = np.ceil(spacing_A / voxel).astype(int)
    g = np.ogrid[tuple(slice(-k, k + 1) for k in r)]
    ball = sum((gi * v) ** 2 for gi, v in zip(g, voxel)) <= spacing_A ** 2
    peaks = (z_map == ndimage.maximum_filter(z_map, footprint=ball, mode="nearest"))
    peaks &= z_map > level
    idx = np.argwhere(peaks)
    pts = origin + idx * voxel
    if len(built_xyz) and len(pts):
        d, _ = cKDTree(built_xyz).query(pts, distance_upper_bound=2.0)
        keep = ~np.isfinite(d)
        pts, idx = pts[keep], idx[keep]
    lo = origin + 1.0
    hi = origin + (np.array(z_map.shape) - 1) * voxel - 1.0
    keep = np.all((pts >= lo) & (pts <= hi), axis=1)
    pts, idx = pts[keep], idx[keep]
    order = np.argsort(-z_map[tuple(idx.T)], kind="stable")[:max(0, int(n_max))]
    return pts[order]


def _structure(chains_xyz, pseudo_zyx) -> gemmi.Structure:
    """gemmi Structure (x, y, z): one poly-alanine chain per fragment, pseudo-atoms as UNK
    residues with one C atom in the last chain."""
    st = gemmi.Structure()
    st.name = "resolvecryoem_build"
    model = gemmi.Model("1")
    names = gemmi_chain_names(set())
    for mc in chains_xyz:
        ch = gemmi.Chain(next(names))
        for i in range(len(mc["CA"])):
            res = gemmi.Residue()
            res.name = "ALA"
            res.seqid = gemmi.SeqId(i + 1, " ")
            res.entity_type = gemmi.EntityType.Polymer
            for name, el in (("N", "N"), ("CA", "C"), ("C", "C"), ("O", "O"), ("CB", "C")):
                a = gemmi.Atom()
                a.name = name
                a.element = gemmi.Element(el)
                a.pos = gemmi.Position(*mc[name][i])
                a.occ = 1.0
                a.b_iso = 30.0
                res.add_atom(a)
            ch.add_residue(res)
        model.add_chain(ch)
    if len(pseudo_zyx):
        ch = gemmi.Chain(next(names))
        for i, (z, y, x) in enumerate(pseudo_zyx):
            res = gemmi.Residue()
            res.name = "UNK"
            res.seqid = gemmi.SeqId(i + 1, " ")
            res.het_flag = "H"
            a = gemmi.Atom()
            a.name = "C"
            a.element = gemmi.Element("C")
            a.pos = gemmi.Position(x, y, z)
            a.occ = 1.0
            a.b_iso = 30.0
            res.add_atom(a)
            ch.add_residue(res)
        model.add_chain(ch)
    st.add_model(model)
    st.setup_entities()
    return st


def build_model(map_array, voxel_size_A, origin_A, resolution_A, n_residues_max=None,
                seed=0, pseudo_atoms=True, min_fragment=6, region=None):
    """(structure, figures): a poly-alanine model traced into the map, plus pseudo-atoms.

    ``map_array`` (z, y, x), ``voxel_size_A`` scalar or (vz, vy, vx), ``origin_A`` (z, y, x)
    coordinate of voxel [0, 0, 0].  ``n_residues_max`` (from the sequence: residues per copy
    times copies) bounds the residues built and sets the molecule threshold; without it the
    builder builds what the density supports (:func:`supported_residues`).  Fragments
    shorter than ``min_fragment`` residues are dropped.  Chain and pseudo-atoms go only on
    density above 4 noise sigmas, so a residue count alone never makes it build on noise.
    Deterministic for a ``seed``; other seeds sample other directions (other models).
    ``region`` (boolean, the map's shape): build only there (e.g. one asymmetric unit, with
    ``n_residues_max`` the residues of that unit); the map outside is set to its noise
    median, so no seed, segment or pseudo-atom goes there.

    figures: residues (traced), helix_residues and strand_residues (made ideal), fragments,
    pseudo_atoms, threshold_sigma (molecule level in noise sigmas), residue_target (the bound
    used), seconds.
    """
    t0 = time.perf_counter()
    voxel = np.broadcast_to(np.asarray(voxel_size_A, dtype=np.float64), (3,)).copy()
    origin = np.asarray(origin_A, dtype=np.float64)
    z_map = prepare_map(map_array, voxel, resolution_A)
    if region is not None:
        z_map = np.where(region, z_map, np.float32(0.0))
    n_target = int(n_residues_max) if n_residues_max else supported_residues(z_map, voxel)
    if n_target < min_fragment:
        return _structure([], np.empty((0, 3))), {
            "residues": 0, "helix_residues": 0, "strand_residues": 0, "fragments": 0,
            "pseudo_atoms": 0, "threshold_sigma": None, "residue_target": n_target,
            "seconds": round(time.perf_counter() - t0, 2)}
    level = molecule_threshold(z_map, voxel, n_target)
    m = _Map(z_map, voxel, origin)
    # Never below a height noise seldom reaches, so that a residue count alone cannot make
    # the builder trace noise.
    floor = max(molecule_threshold(z_map, voxel, _CORE_FRACTION * n_target), _NOISE_FLOOR)
    tracer = _Tracer(m, floor=floor, scale=level, seed=seed)
    budget = n_target
    chains = []
    n_built = n_helix = n_strand = 0
    # Seeds in the core only: a walk from a weaker peak rarely gets past its first step
    # (every segment must stay above the floor); on a noisy half-map variant (1AKE 3.5 A)
    # such peaks were 490 of 548 seeds and none gave a kept fragment (a rejected walk
    # leaves the tracer as it was, so the traces stay the same).
    for s in _seeds(z_map, voxel, origin, max(level, floor)):
        if n_built >= budget:
            break
        if not m.inside(s) or not tracer._free(s[None])[0]:
            continue
        ca = tracer.trace_from(s, max_len=budget - n_built)
        if len(ca) < max(min_fragment, 3):
            continue
        if _HELICES:
            reg, n_h, n_s = secondary.regularise(ca[:, ::-1])
            if m.inside(reg[:, ::-1]).all():   # else keep the trace: atoms stay in the box
                ca = reg[:, ::-1]
                n_helix += n_h
                n_strand += n_s
        tracer.add(ca)
        chains.append(_orient(m, ca))
        n_built += len(ca)
    built = (np.vstack([mc[k][:, ::-1] for mc in chains for k in ("N", "CA", "C", "O", "CB")])
             if chains else np.empty((0, 3)))
    pseudo = np.empty((0, 3))
    if pseudo_atoms:
        n_max = n_target * A3_PER_RESIDUE * ATOMS_PER_A3 - len(built)
        pseudo = _pseudo_atoms(z_map, voxel, origin, max(level, _NOISE_FLOOR), built, n_max)
    st = _structure(chains, pseudo)
    figures = {"residues": int(n_built), "helix_residues": int(n_helix),
               "strand_residues": int(n_strand),
               "fragments": len(chains),
               "pseudo_atoms": int(len(pseudo)), "threshold_sigma": round(level, 3),
               "residue_target": n_target,
               "seconds": round(time.perf_counter() - t0, 2)}
    return st, figures
