"""Ideal protein main-chain geometry, written once, and main chain from C-alpha traces.

Bond lengths and angles: Engh & Huber (1991), Acta Cryst. A47, 392 (the values refinement
programs restrain to).  Atoms are placed by the natural extension reference frame (NeRF:
Parsons et al. 2005, J. Comput. Chem. 26, 1063).  Main chain from C-alpha: each peptide (C, O, N
between two C-alpha 3.8 A apart) is an ideal rigid trans unit with one free rotation about
the CA-CA axis, chosen to sit closest to where the frame of C-alpha i-1, i, i+1 puts C and N
(as in BBQ / PULCHRA, Gront et al. 2007, Rotkiewicz & Skolnick 2008; frame coordinates from
an ideal helix and an ideal strand built here from the constants, interpolated by the
C-alpha virtual angle).  Every N-CA, CA-C, C-N, C=O and CA-CB bond has its ideal length.
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


def _frame_targets(ext):
    """Template N, C (n-2, 3 each) for the inner C-alpha of a trace from their frames:
    local coordinates interpolated between the ideal helix and strand by the virtual angle."""
    frame, angle = _frames(ext[:-2], ext[1:-1], ext[2:])
    (a_h, loc_h), (a_s, loc_s) = _HELIX, _STRAND
    w = np.clip((angle - a_h) / (a_s - a_h), 0.0, 1.0)[:, None]
    return {name: ext[1:-1] + np.einsum("nk,nkj->nj", (1 - w) * loc_h[name]
                                          + w * loc_s[name], frame)
            for name in ("N", "C")}


def _peptide_template():
    """Ideal trans peptide (C, O, N) in the frame of its two C-alpha: x along CA(i) ->
    CA(i+1), y in the peptide plane towards C; planar, so z = 0."""
    bb = ideal_backbone(HELIX_PHI_PSI, 3)
    ca0, ca1 = bb["CA"][1], bb["CA"][2]
    x = (ca1 - ca0) / np.linalg.norm(ca1 - ca0)
    c = bb["C"][1] - ca0
    y = c - (c @ x) * x
    y /= np.linalg.norm(y)
    z = np.cross(x, y)
    return {k: np.array([v @ x, v @ y, v @ z]) for k, v in
            (("C", c), ("O", bb["O"][1] - ca0), ("N", bb["N"][2] - ca0))}


_PEPTIDE = _peptide_template()


def peptides_from_ca(ca, target_c, target_n) -> dict:
    """Rigid ideal peptides C(i), O(i), N(i+1) between consecutive C-alpha (n-1 of them),
    each turned about its CA-CA axis to lie closest (least squares, closed form) to the
    target C(i) and N(i+1)."""
    x = ca[1:] - ca[:-1]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ref = np.where(np.abs(x[:, :1]) < 0.9, np.array([[1.0, 0, 0]]), np.array([[0, 1.0, 0]]))
    e1 = ref - np.sum(ref * x, axis=1, keepdims=True) * x
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(x, e1)
    # y(phi) = cos e1 + sin e2, z(phi) = cos e2 - sin e1: objective A cos + B sin.
    A = B = 0.0
    for name, t in (("C", target_c), ("N", target_n)):
        a, b, c = _PEPTIDE[name]
        r = t - ca[:-1]
        r1, r2 = np.sum(r * e1, axis=1), np.sum(r * e2, axis=1)
        A = A + b * r1 + c * r2
        B = B + b * r2 - c * r1
    phi = np.arctan2(B, A)[:, None]
    y = np.cos(phi) * e1 + np.sin(phi) * e2
    z = np.cos(phi) * e2 - np.sin(phi) * e1
    out = {}
    for name in ("C", "O", "N"):
        a, b, c = _PEPTIDE[name]
        out[name] = ca[:-1] + a * x + b * y + c * z
    return out


def main_chain_from_ca(ca) -> dict:
    """N, CA, C, O, CB (n, 3 each, A) from a C-alpha trace (n >= 3, CA-CA 3.80 A).

    Each peptide is an ideal rigid trans unit (C-N, CA-C, N-CA, C=O lengths and the angles
    at C and N exact), turned about its CA-CA axis to sit closest to where the ideal helix or
    strand template (interpolated by the virtual angle at each C-alpha) puts C and N; the end
    residues use virtual C-alpha that continue the trace.  C-beta: ideal L geometry from N,
    CA and C.
    """
    ca = np.asarray(ca, dtype=np.float64)
    ext = extend_trace(extend_trace(ca))       # two virtual C-alpha at each end
    tgt = _frame_targets(ext)                  # for ext[1:-1] = ca with one virtual each end
    inner = ext[1:-1]
    pep = peptides_from_ca(inner, tgt["C"][:-1], tgt["N"][1:])   # n + 1 peptides
    N = pep["N"][:-1]
    C, O = pep["C"][1:], pep["O"][1:]
    return {"N": N, "CA": ca, "C": C, "O": O, "CB": cb_position(N, ca, C)}
