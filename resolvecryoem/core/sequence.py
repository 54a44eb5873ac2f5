"""Sequence files -> molecular mass -> molecular volume -> solvent fraction (ALGORITHM.md 1).

Formats: FASTA (``>name`` lines), PIR (``>P1;name``, a description line, the sequence ending
in ``*``), or plain letters (blank lines separate chains).  Digits, white space, ``*`` and
gap characters are ignored.  Each chain is classified as protein, RNA or DNA: nucleic acid
only when every letter is a nucleotide letter (ACGU/ACGT, N allowed) and the chain has at
least 5 of them; ribosomes and other nucleoprotein complexes mix both kinds.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError

WATER_DA = 18.015
# Average masses of residues in a chain (amino acid minus water), Da.
PROTEIN_RESIDUE_DA = {
    "A": 71.0788, "R": 156.1875, "N": 114.1038, "D": 115.0886, "C": 103.1388,
    "E": 129.1155, "Q": 128.1307, "G": 57.0519, "H": 137.1411, "I": 113.1594,
    "L": 113.1594, "K": 128.1741, "M": 131.1926, "F": 147.1766, "P": 97.1167,
    "S": 87.0782, "T": 101.1051, "W": 186.2132, "Y": 163.1760, "V": 99.1326,
    "U": 150.0388, "O": 237.3018, "B": 114.5962, "Z": 128.6231, "J": 113.1594,
    "X": 110.0,
}
# Nucleotide monophosphate residues in a chain (nucleoside monophosphate minus water), Da.
RNA_RESIDUE_DA = {"A": 329.21, "C": 305.18, "G": 345.21, "U": 306.17, "N": 321.4}
DNA_RESIDUE_DA = {"A": 313.21, "C": 289.18, "G": 329.21, "T": 304.20, "N": 308.9}
# Partial specific volumes as volume per mass, A^3/Da (ALGORITHM.md section 1).
A3_PER_DA = {"protein": 1.23, "rna": 0.95, "dna": 0.95}


@dataclass
class Chain:
    name: str
    sequence: str
    kind: str  # "protein", "rna" or "dna"

    @property
    def mass_Da(self) -> float:
        table = {"protein": PROTEIN_RESIDUE_DA, "rna": RNA_RESIDUE_DA,
                 "dna": DNA_RESIDUE_DA}[self.kind]
        return sum(table[c] for c in self.sequence) + WATER_DA

    @property
    def volume_A3(self) -> float:
        return self.mass_Da * A3_PER_DA[self.kind]


def classify(seq: str) -> str:
    letters = set(seq)
    if len(seq) >= 5 and letters <= set("ACGUN") and "U" in letters:
        return "rna"
    if len(seq) >= 5 and letters <= set("ACGTN"):
        return "dna"
    return "protein"


def parse_sequence_text(text: str, source: str = "<text>") -> list:
    """Chains of a FASTA, PIR or plain-text sequence; InputError naming ``source``."""
    blocks = []  # (name, raw lines)
    lines = text.replace("\r", "\n").split("\n")
    if any(line.startswith(">") for line in lines):
        name, body, skip_description = None, [], False
        for line in lines:
            if line.startswith(">"):
                if name is not None:
                    blocks.append((name, body))
                header = line[1:].strip()
                pir = re.match(r"^[A-Z][A-Z0-9];", header)
                name = header[3:] if pir else header
                body, skip_description = [], bool(pir)
            elif skip_description:
                skip_description = False  # PIR's description line
            elif name is not None:
                body.append(line)
        if name is not None:
            blocks.append((name, body))
    else:
        body = []
        for line in lines + [""]:
            if line.strip():
                body.append(line)
            elif body:
                blocks.append((f"chain {len(blocks) + 1}", body))
                body = []
    chains = []
    for name, body in blocks:
        raw = "".join(body)
        cleaned = re.sub(r"[\s\d*\-.]", "", raw).upper()
        bad = sorted(set(c for c in cleaned if not c.isalpha() or not c.isascii()))
        if bad:
            raise InputError(f"{source}: characters that are neither amino acids nor "
                             f"nucleotides in {name or 'the sequence'}: {' '.join(bad)}")
        if cleaned:
            chains.append(Chain(name or f"chain {len(chains) + 1}", cleaned, classify(cleaned)))
    if not chains:
        raise InputError(f"{source}: the sequence file holds no residues")
    return chains


# Protein letters that stand for no definite standard residue: ambiguous (B = D/N, Z = E/Q,
# J = I/L), unknown (X), or pyrrolysine (O), which is rare enough to be more often a typo.
# They are counted with average masses; a run reports how many there were.
INDEFINITE_PROTEIN_LETTERS = "BZJXO"


def indefinite_letters(chains) -> dict:
    """{letter: count} of protein letters that are no definite residue (B, Z, J, X, O) and
    of N in nucleic-acid chains, over all chains."""
    counts = {}
    for c in chains:
        letters = INDEFINITE_PROTEIN_LETTERS if c.kind == "protein" else "N"
        for ch in letters:
            n = c.sequence.count(ch)
            if n:
                counts[ch] = counts.get(ch, 0) + n
    return counts


def sequence_warnings(chains, source) -> list:
    """Warnings for a sequence whose mass rests partly on guesses (see
    :func:`indefinite_letters`); empty when every letter is a definite residue."""
    counts = indefinite_letters(chains)
    if not counts:
        return []
    total = sum(len(c.sequence) for c in chains)
    n = sum(counts.values())
    listed = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    return [f"{source}: {n} of {total} residue letters are no definite residue ({listed}); "
            f"they were counted with average residue masses. B = D/N, Z = E/Q, J = I/L, "
            f"X = unknown, O = pyrrolysine, N = any nucleotide: check the sequence if these "
            f"were not meant."]


def read_sequence(path) -> list:
    """Chains of a sequence file (see the module docstring for the formats)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read the sequence file ({e.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text sequence file") from None
    return parse_sequence_text(text, str(path))


def molecular_mass(chains, copies: int = 1) -> float:
    """Mass of all chains x copies, Da."""
    return copies * sum(c.mass_Da for c in chains)


def molecular_volume(chains, copies: int = 1) -> float:
    """Volume of all chains x copies, A^3 (1.23 A^3/Da protein, 0.95 nucleic acid)."""
    return copies * sum(c.volume_A3 for c in chains)


def volume_from_mass(mass_Da: float, nucleic_fraction: float = 0.0) -> float:
    """Volume (A^3) of a molecule of the given mass, part of it nucleic acid by mass."""
    f = min(max(nucleic_fraction, 0.0), 1.0)
    return mass_Da * ((1 - f) * A3_PER_DA["protein"] + f * A3_PER_DA["rna"])


# The solvent fractions the solvent mask is computed for; outside them a run works on an
# assumption (checks.check_molecular_volume says which).
SOLVENT_FRACTION_RANGE = (0.05, 0.995)


def solvent_fraction(volume_A3: float, box_volume_A3: float) -> float:
    """1 - V_molecule / V_box, clamped to SOLVENT_FRACTION_RANGE: which box matters
    (ALGORITHM.md 1)."""
    lo, hi = SOLVENT_FRACTION_RANGE
    return float(min(max(1.0 - volume_A3 / box_volume_A3, lo), hi))
