"""Ideal protein main-chain geometry, written once, and main chain from C-alpha traces.

Bond lengths and angles: Engh & Huber (1991), Acta Cryst. A47, 392 (the values refinement
programs restrain to).  Atoms are placed by the natural extension reference frame (NeRF:
Parsons et al. 2005, J. Comput. Chem. 26, 1063).  Main chain from C-alpha: N, C and C-beta of
residue i sit at fixed coordinates in the frame of C-alpha i-1, i, i+1 (as in BBQ / PULCHRA,
Gront et al. 2007, Rotkiewicz & Skolnick 2008), with the coordinates read from an ideal helix
and an ideal strand built here from the constants and interpolated by the C-alpha virtual
angle; O then follows from C, C-alpha and the next N in the peptide plane.  Every N-CA, CA-C,
CA-CB and C-O bond therefore has its ideal length exactly.
"""
from __future__ import annotations

import numpy as np

# Bond lengths, A.
N_CA = 1.458
CA_C = 1.525
C_N = 1.329
C_O = 1.231
CA_CB = 1.530
CA_CA = 3.80  # trans peptide C-alpha to C-alpha distance

# Bond angles, degrees.
N_CA_C = 111.2
CA_C_N = 116.2
C_N_CA = 121.7
CA_C_O = 120.8
N_CA_CB = 110.5
C_CA_CB = 110.1

# Main-chain dihedrals (phi, psi), degrees, of the two regular secondary structures.
HELIX_PHI_PSI = (-57.8, -47.0)   # right-handed alpha helix
STRAND_PHI_PSI = (-119.0, 113.0)  # beta strand
OMEGA = 180.0

# Regular C-alpha traces (rise per residue and turn per residue).
HELIX_RISE_A = 1.5
HELIX_TURN_DEG = 100.0
HELIX_CA_RADIUS_A = 2.3


def place(a, b, c, bond, angle_deg, torsion_deg):
    """Position d with |cd| = bond, angle bcd and torsion abcd (NeRF), vectorised over rows."""
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (a, b, c))
    ang, tor = np.radians(angle_deg), np.radians(torsion_deg)
    bc = c - b
    bc /= np.linalg.norm(bc, axis=-1, keepdims=True)
    n = np.cross(b - a, bc)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    m = np.cross(n, bc)
    d2 = np.stack([-bond * np.cos(ang), bond * np.sin(ang) * np.cos(tor),
                   bond * np.sin(ang) * np.sin(tor)], axis=-1)
    return c + d2[..., 0:1] * bc + d2[..., 1:2] * m + d2[..., 2:3] * n


def cb_position(n, ca, c):
    """Ideal C-beta of an L-amino acid from N, CA and C (rows), by NeRF on C, N, CA."""
    # Torsion C-N-CA-CB of about -122.6 deg puts C-beta on the L side.
    return place(c, n, ca, CA_CB, N_CA_CB, -122.6)


def ideal_backbone(phi_psi, n_res: int = 7) -> dict:
    """N, CA, C, O, CB (n_res, 3 each) of an ideal chain with constant (phi, psi)."""
    phi, psi = phi_psi
    atoms = [np.array([0.0, 0.0, 0.0]), np.array([N_CA, 0.0, 0.0])]
    ang = np.radians(N_CA_C)
    atoms.append(atoms[1] + CA_C * np.array([-np.cos(ang), np.sin(ang), 0.0]))
    for _ in range(n_res - 1):
        atoms.append(place(atoms[-3], atoms[-2], atoms[-1], C_N, CA_C_N, psi))       # N
        atoms.append(place(atoms[-3], atoms[-2], atoms[-1], N_CA, C_N_CA, OMEGA))    # CA
        atoms.append(place(atoms[-3], atoms[-2], atoms[-1], CA_C, N_CA_C, phi))      # C
    xyz = np.array(atoms).reshape(n_res, 3, 3)
    N, CA, C = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    O = place(N, CA, C, C_O, CA_C_O, psi + 180.0)
    return {"N": N, "CA": CA, "C": C, "O": O, "CB": cb_position(N, CA, C)}


def _frames(prev, ca, nxt):
    """Orthonormal frames (rows: e1, e2, e3) at C-alpha from its neighbours, and the virtual
    angle (deg).  e1 bisects the two virtual bonds, e3 is their normal."""
    u = prev - ca
    v = nxt - ca
    u /= np.linalg.norm(u, axis=-1, keepdims=True)
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    e1 = u + v
    e1 /= np.maximum(np.linalg.norm(e1, axis=-1, keepdims=True), 1e-9)
    e3 = np.cross(u, v)
    e3 /= np.maximum(np.linalg.norm(e3, axis=-1, keepdims=True), 1e-9)
    e2 = np.cross(e3, e1)
    angle = np.degrees(np.arccos(np.clip(np.sum(u * v, axis=-1), -1.0, 1.0)))
    return np.stack([e1, e2, e3], axis=-2), angle


def _template(phi_psi):
    """Virtual angle and local (frame) coordinates of N, C, CB of the middle residue."""
    bb = ideal_backbone(phi_psi, 5)
    frame, angle = _frames(bb["CA"][1:2], bb["CA"][2:3], bb["CA"][3:4])
    local = {k: frame[0] @ (bb[k][2] - bb["CA"][2]) for k in ("N", "C", "CB")}
    return float(angle[0]), local


_HELIX = _template(HELIX_PHI_PSI)
_STRAND = _template(STRAND_PHI_PSI)


def extend_trace(ca: np.ndarray) -> np.ndarray:
    """The trace with one virtual C-alpha added at each end, so that the end residues have a
    frame: CA[-1] = CA[0] + (CA[1] - CA[2]) repeats the neighbouring virtual angle."""
    if len(ca) < 3:
        raise ValueError("a C-alpha trace needs at least 3 positions")
    first = ca[0] + (ca[1] - ca[2])
    last = ca[-1] + (ca[-2] - ca[-3])
    return np.vstack([first, ca, last])


def main_chain_from_ca(ca) -> dict:
    """N, CA, C, O, CB (n, 3 each, A) from a C-alpha trace (n >= 3, CA-CA about 3.8 A).

    Local coordinates are interpolated between the ideal helix and strand templates by the
    virtual angle at each C-alpha, then rescaled to the ideal bond lengths.
    """
    ca = np.asarray(ca, dtype=np.float64)
    ext = extend_trace(ca)
    frame, angle = _frames(ext[:-2], ext[1:-1], ext[2:])
    (a_h, loc_h), (a_s, loc_s) = _HELIX, _STRAND
    w = np.clip((angle - a_h) / (a_s - a_h), 0.0, 1.0)[:, None]
    out = {"CA": ca}
    for name, length in (("N", N_CA), ("C", CA_C), ("CB", CA_CB)):
        local = (1 - w) * loc_h[name] + w * loc_s[name]
        local *= length / np.linalg.norm(local, axis=1, keepdims=True)
        out[name] = ca + np.einsum("nk,nkj->nj", local, frame)
    # Next residue's N for the last O: from the virtual C-alpha's frame.
    ext2 = np.vstack([ext, ext[-1] + (ext[-2] - ext[-3])])
    f_last, a_last = _frames(ext2[-3:-2], ext2[-2:-1], ext2[-1:])
    w_last = np.clip((a_last - a_h) / (a_s - a_h), 0.0, 1.0)[:, None]
    n_last = (1 - w_last) * loc_h["N"] + w_last * loc_s["N"]
    n_last *= N_CA / np.linalg.norm(n_last)
    n_next = np.vstack([out["N"][1:], ext[-1] + n_last @ f_last[0]])
    out["O"] = _carbonyl_o(ca, out["C"], n_next)
    return out


def _carbonyl_o(ca, c, n_next):
    """O in the plane of CA, C and the next N, at the ideal C=O length and CA-C-O angle,
    on the side away from N."""
    u = ca - c
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = n_next - c
    w = -(v - np.sum(v * u, axis=1, keepdims=True) * u)
    w /= np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-9)
    ang = np.radians(CA_C_O)
    return c + C_O * (np.cos(ang) * u + np.sin(ang) * w)


def ideal_helix_ca(n_res: int) -> np.ndarray:
    """C-alpha trace of an ideal right-handed alpha helix along +z, (n_res, 3) A."""
    k = np.arange(n_res)
    t = np.radians(HELIX_TURN_DEG) * k
    return np.stack([HELIX_CA_RADIUS_A * np.cos(t), HELIX_CA_RADIUS_A * np.sin(t),
                     HELIX_RISE_A * k], axis=1)
