"""How a built model's main chain compares with a deposited model (ALGORITHM.md section 10:
the honest test of a builder is the fraction of deposited C-alpha near a built one)."""
from __future__ import annotations

import gemmi
import numpy as np
from scipy.spatial import cKDTree


def ca_chains(st: gemmi.Structure) -> list:
    """Per chain of the first model, the (n, 3) C-alpha coordinates (x, y, z) of its
    amino-acid residues in order (chains without C-alpha left out)."""
    out = []
    for ch in st[0]:
        xyz = [r.find_atom("CA", "*").pos.tolist() for r in ch
               if r.find_atom("CA", "*") is not None and r.name != "UNK"]
        if xyz:
            out.append(np.array(xyz))
    return out


def compare_ca(built: gemmi.Structure, deposited: gemmi.Structure, near_A=(1.5, 3.0)) -> dict:
    """Fractions of deposited C-alpha with a built C-alpha within each distance of
    ``near_A``, the fraction of built C-alpha within 3 A of a deposited one, and the chain
    fragments whose direction runs against the deposited chain.

    A fragment's direction is the sign of the deposited residue-index step between the matches
    (nearest deposited C-alpha within 3 A, same chain) of its consecutive C-alpha; a fragment
    is wrong-direction when more such steps go backwards than forwards (wrong_direction_ca:
    the fraction of built C-alpha in such fragments).  Steps between
    consecutive built C-alpha: fractions that advance one deposited residue (the ideal),
    two (a short cut, typical in helices), and any other (a jump to another segment, a stall,
    or a C-alpha away from the deposited chain).
    """
    dep = ca_chains(deposited)
    dep_xyz = np.vstack(dep)
    dep_chain = np.concatenate([np.full(len(c), i) for i, c in enumerate(dep)])
    dep_index = np.concatenate([np.arange(len(c)) for c in dep])
    frags = ca_chains(built)
    out = {"deposited_ca": int(len(dep_xyz)),
           "built_ca": int(sum(len(f) for f in frags)), "fragments": len(frags)}
    if not frags:
        out.update({f"within_{d:g}A": 0.0 for d in near_A})
        out.update(built_within_3A=0.0, wrong_direction=0, wrong_direction_ca=0.0,
                   scored_fragments=0,
                   steps_one_residue=0.0, steps_two_residues=0.0, steps_off_chain=0.0)
        return out
    b_xyz = np.vstack(frags)
    d_dep, _ = cKDTree(b_xyz).query(dep_xyz)
    for d in near_A:
        out[f"within_{d:g}A"] = round(float(np.mean(d_dep <= d)), 4)
    tree = cKDTree(dep_xyz)
    out["built_within_3A"] = round(float(np.mean(tree.query(b_xyz)[0] <= 3.0)), 4)
    wrong = scored = wrong_ca = 0
    all_steps = []
    for f in frags:
        d, j = tree.query(f)
        ok = d <= 3.0
        same = ok[1:] & ok[:-1] & (dep_chain[j[1:]] == dep_chain[j[:-1]])
        steps = np.where(same, dep_index[j[1:]] - dep_index[j[:-1]], 10 ** 6)
        all_steps.append(steps)
        steps = steps[(steps != 0) & (steps != 10 ** 6)]
        if len(steps):
            scored += 1
            is_wrong = (steps < 0).sum() > (steps > 0).sum()
            wrong += int(is_wrong)
            wrong_ca += len(f) if is_wrong else 0
    out["wrong_direction"] = wrong
    out["wrong_direction_ca"] = round(wrong_ca / max(len(b_xyz), 1), 3)
    out["scored_fragments"] = scored
    # Built C-alpha steps: to the next deposited residue (either way), skipping one, other.
    st = np.abs(np.concatenate(all_steps)) if all_steps else np.zeros(0)
    n = max(len(st), 1)
    out["steps_one_residue"] = round(float(np.sum(st == 1)) / n, 3)
    out["steps_two_residues"] = round(float(np.sum(st == 2)) / n, 3)
    out["steps_off_chain"] = round(float(np.sum((st > 2) | (st == 0))) / n, 3)
    return out
