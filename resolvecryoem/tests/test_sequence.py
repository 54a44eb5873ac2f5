"""Sequence files -> mass -> volume -> solvent fraction."""
import pytest

from resolvecryoem.core.errors import InputError
from resolvecryoem.core.sequence import (molecular_mass, molecular_volume,
                                         parse_sequence_text, read_sequence, solvent_fraction,
                                         volume_from_mass)

from ._data import SHARED_DATA

UBIQUITIN = "MQIFVKTLTGKTITLEVEPSDTIENVKAKIQDKEGIPPDQQRLIFAGKQLEDGRTLSDYNIQKESTLHLVLRLRGG"


def test_ubiquitin_mass():
    assert molecular_mass(parse_sequence_text(UBIQUITIN)) == pytest.approx(8565, rel=0.005)


def test_formats_give_the_same_chains(tmp_path):
    fasta = f">A ubiquitin\n{UBIQUITIN[:40]}\n{UBIQUITIN[40:]}\n>B\n{UBIQUITIN}\n"
    pir = f">P1;ubq\nubiquitin, chain A\n{UBIQUITIN}*\n>P1;ubq2\nchain B\n{UBIQUITIN}*\n"
    plain = f"1 {UBIQUITIN[:30]}\n31 {UBIQUITIN[30:]}\n\n{UBIQUITIN}\n"
    for text in (fasta, pir, plain):
        chains = parse_sequence_text(text)
        assert [c.sequence for c in chains] == [UBIQUITIN, UBIQUITIN]
        assert all(c.kind == "protein" for c in chains)


def test_nucleic_acids_are_recognised_and_lighter_per_volume():
    rna = parse_sequence_text(">r\nGGCGAUACGCAUUGCGAUCGAUU\n")[0]
    dna = parse_sequence_text(">d\nGGCGATACGCATTGCGATCGATT\n")[0]
    assert (rna.kind, dna.kind) == ("rna", "dna")
    assert rna.mass_Da / len(rna.sequence) == pytest.approx(321, abs=10)
    assert dna.mass_Da / len(dna.sequence) == pytest.approx(308, abs=10)
    assert rna.volume_A3 / rna.mass_Da == pytest.approx(0.95)


def test_copies_and_solvent_fraction_depend_on_the_box():
    chains = parse_sequence_text(UBIQUITIN)
    assert molecular_volume(chains, copies=3) == pytest.approx(3 * molecular_volume(chains))
    v = volume_from_mass(100_000)
    assert solvent_fraction(v, 200.0 ** 3) == pytest.approx(0.985, abs=0.001)
    assert solvent_fraction(v, 70.0 ** 3) == pytest.approx(0.64, abs=0.01)


@pytest.mark.parametrize("text", ["", "\n\n", ">empty\n\n", "1234 5678"])
def test_empty_sequences_are_errors(tmp_path, text):
    f = tmp_path / "empty.fasta"
    f.write_text(text)
    with pytest.raises(InputError, match="empty.fasta"):
        read_sequence(f)


def test_non_residue_characters_are_errors(tmp_path):
    f = tmp_path / "junk.seq"
    f.write_text(">x\nMKV@#LL\n")
    with pytest.raises(InputError, match="junk.seq.*@"):
        read_sequence(f)
    with pytest.raises(InputError, match="cannot read"):
        read_sequence(tmp_path / "absent.seq")


def test_shared_sequences_parse():
    files = sorted(SHARED_DATA.glob("*/*.fasta"))
    if not files:
        pytest.skip(f"optional shared data {SHARED_DATA} is absent")
    for f in files:
        chains = read_sequence(f)
        assert molecular_mass(chains) > 1000


def test_letters_that_are_no_definite_residue_are_counted_and_reported():
    from resolvecryoem.core.sequence import indefinite_letters, sequence_warnings
    chains = parse_sequence_text(f">a\n{UBIQUITIN}ZZBX\n>b\nJOXX\n>r\nGGCGAUNNACG\n")
    assert indefinite_letters(chains) == {"Z": 2, "B": 1, "X": 3, "J": 1, "O": 1, "N": 2}
    (w,) = sequence_warnings(chains, "s.fasta")
    assert w.startswith("s.fasta: 10 of ") and "B 1, J 1, N 2, O 1, X 3, Z 2" in w
    assert sequence_warnings(parse_sequence_text(UBIQUITIN), "u.fasta") == []
    # counted with average masses, not dropped
    assert molecular_mass(parse_sequence_text("AAAAXXXX")) == pytest.approx(
        4 * 71.0788 + 4 * 110.0 + 18.015)
