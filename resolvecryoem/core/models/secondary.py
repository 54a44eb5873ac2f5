"""Helices and strands recognised in a C-alpha trace and replaced by ideal ones.

A stretch whose virtual C-alpha angles and dihedrals are those of an alpha helix (about 91
and +50 deg; Levitt 1976, J. Mol. Biol. 104, 59) for at least 6 residues, or of a strand
(about 120 and 190 deg) for at least 4, is superposed on an ideal helix or strand (:mod:`.ideal`, Kabsch superposition, proper rotations only) and,
where it fits within ``max_rmsd_A``, replaced by it; the rest of the trace is then re-spaced
to exactly 3.80 A outwards from the helix.  Coordinates x, y, z (in z, y, x the hand flips).
"""
from __future__ import annotations

import numpy as np

from . import ideal


def virtual_geometry(ca):
    """Virtual angles at ca[1:-1] and dihedrals of ca[i-1..i+2] (degrees), x, y, z input."""
    b = np.diff(ca, axis=0)
    u = b / np.linalg.norm(b, axis=1, keepdims=True)
    angle = np.degrees(np.arccos(np.clip(np.sum(-u[:-1] * u[1:], axis=1), -1, 1)))
    n1 = np.cross(b[:-2], b[1:-1])
    n2 = np.cross(b[1:-1], b[2:])
    m1 = np.cross(n1, u[1:-1])
    tau = -np.degrees(np.arctan2(np.sum(n2 * m1, axis=1), np.sum(n2 * n1, axis=1)))
    return angle, tau


HELIX = dict(angle=(80.0, 102.0), tau=(25.0, 75.0), min_len=6)
# Strands: extended, the dihedral near +-180 (twisted strands around -170, i.e. 190 deg).
STRAND = dict(angle=(105.0, 135.0), tau=(150.0, 240.0), min_len=4)


def helical_runs(ca, min_len=6, angle=HELIX["angle"], tau=HELIX["tau"]):
    """(start, stop) index ranges of the trace that are helical for >= min_len residues
    (``tau`` bounds in degrees, taken modulo 360 from the lower one)."""
    if len(ca) < max(min_len, 4):
        return []
    a, t = virtual_geometry(ca)
    t = (t - tau[0]) % 360.0 + tau[0]
    ok = ((a[:-1] >= angle[0]) & (a[:-1] <= angle[1]) & (a[1:] >= angle[0])
          & (a[1:] <= angle[1]) & (t >= tau[0]) & (t <= tau[1]))
    helical = np.zeros(len(ca), bool)
    for i in np.flatnonzero(ok):   # dihedral i spans ca[i..i+3]
        helical[i:i + 4] = True
    edges = np.flatnonzero(np.diff(np.concatenate([[0], helical.astype(int), [0]])))
    return [(s, e) for s, e in zip(edges[::2], edges[1::2]) if e - s >= min_len]


def superpose(mobile, target):
    """Mobile points moved onto target by the least-squares proper rotation (Kabsch), and
    the rmsd."""
    mc, tc = mobile.mean(0), target.mean(0)
    h = (mobile - mc).T @ (target - tc)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    moved = (mobile - mc) @ r.T + tc
    return moved, float(np.sqrt(np.mean(np.sum((moved - target) ** 2, axis=1))))


def respace(ca, start, stop):
    """The trace kept as is over [start, stop) and every other C-alpha moved, outwards from
    there, to exactly 3.80 A from its already placed neighbour, on the line towards its own
    position (so an offset at a junction dies away along the chain)."""
    ca = ca.copy()
    for i in range(stop, len(ca)):
        d = ca[i] - ca[i - 1]
        ca[i] = ca[i - 1] + ideal.CA_CA * d / np.linalg.norm(d)
    for i in range(start - 1, -1, -1):
        d = ca[i] - ca[i + 1]
        ca[i] = ca[i + 1] + ideal.CA_CA * d / np.linalg.norm(d)
    return ca


def regularise(ca, max_rmsd_A=1.0):
    """(trace, helix residues, strand residues): helical, then extended stretches replaced
    by the ideal helix or strand superposed on them where it fits within ``max_rmsd_A``."""
    ca = np.asarray(ca, dtype=np.float64)
    out = ca.copy()
    counts = []
    runs = []
    fixed = np.zeros(len(ca), bool)
    for kind, phi_psi in ((HELIX, ideal.HELIX_PHI_PSI), (STRAND, ideal.STRAND_PHI_PSI)):
        n = 0
        for s, e in helical_runs(ca, **kind):
            if fixed[s:e].any():
                continue
            ideal_ca = ideal.ideal_backbone(phi_psi, e - s)["CA"]
            ideal_ca *= ideal.CA_CA / np.linalg.norm(ideal_ca[1] - ideal_ca[0])
            moved, rmsd = superpose(ideal_ca, ca[s:e])
            if rmsd <= max_rmsd_A:
                out[s:e] = moved
                fixed[s:e] = True
                runs.append((s, e))
                n += e - s
        counts.append(n)
    if runs:
        out = respace(out, *min(runs))
    return out, counts[0], counts[1]
