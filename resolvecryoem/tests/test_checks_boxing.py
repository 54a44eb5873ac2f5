"""Input checks and boxing."""
import numpy as np
import pytest

from resolvecryoem.core import boxing
from resolvecryoem.core.checks import check_half_maps, check_mask, check_same_grid, looks_masked
from resolvecryoem.core.errors import InputError
from resolvecryoem.core.mapio import map_info, read_map

from ._data import shared_file


def _pair(n=32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, n, n)).astype(np.float32),
            rng.standard_normal((n, n, n)).astype(np.float32))


def test_good_pair_passes_without_warnings():
    a, b = _pair()
    i = map_info(a.shape, 1.0)
    assert check_half_maps(a, i, b, i) == []


def test_mismatched_pairs_raise_with_file_names():
    a, b = _pair()
    i1 = map_info(a.shape, 1.0, path="h1.mrc")
    with pytest.raises(InputError, match="voxel sizes.*h1.mrc.*h2.mrc"):
        check_half_maps(a, i1, b, map_info(b.shape, 1.1, path="h2.mrc"))
    with pytest.raises(InputError, match="different boxes"):
        check_half_maps(a, i1, b[:-2], map_info(b[:-2].shape, 1.0, path="h2.mrc"))
    with pytest.raises(InputError, match="identical"):
        check_half_maps(a, i1, a.copy(), map_info(a.shape, 1.0, path="h2.mrc"))
    bad = b.copy()
    bad[3, 4, 5] = np.nan
    with pytest.raises(InputError, match="h2.mrc.*NaN"):
        check_half_maps(a, i1, bad, map_info(b.shape, 1.0, path="h2.mrc"))


def test_masked_maps_are_warned_about():
    a, b = _pair(40)
    r = np.linalg.norm(np.indices(a.shape) - 20, axis=0)
    masked = np.where(r < 12, a, 0).astype(np.float32)
    assert "exactly zero" in looks_masked(masked)
    i = map_info(a.shape, 1.0, path="m.mrc")
    warnings = check_half_maps(masked, i, b, map_info(a.shape, 1.0))
    assert len(warnings) == 1 and "m.mrc looks masked" in warnings[0]
    assert looks_masked(a) is None


def test_real_masked_and_unmasked_maps():
    d, _ = read_map(shared_file("emd_3488", "emd_3488.mrc"))
    assert looks_masked(d) is not None
    d, _ = read_map(shared_file("emd_5168", "emd_5168.map"))
    assert looks_masked(d) is None


def test_mask_checks():
    i = map_info((8, 8, 8), 1.0)
    with pytest.raises(InputError, match="box"):
        check_same_grid(np.ones((8, 8, 9)), map_info((8, 8, 9), 1.0, path="mask.mrc"), i,
                        "mask")
    with pytest.raises(InputError, match="0 .*1"):
        check_mask(np.full((8, 8, 8), 5.0), map_info((8, 8, 8), 1.0, path="mask.mrc"))
    with pytest.raises(InputError, match="empty"):
        check_mask(np.zeros((8, 8, 8)), map_info((8, 8, 8), 1.0, path="mask.mrc"))


def test_box_contains_an_off_centre_blob_and_round_trips():
    rng = np.random.default_rng(3)
    n = 96
    z, y, x = np.indices((n, n, n))
    blob = np.exp(-((z - 30) ** 2 + (y - 60) ** 2 + (x - 40) ** 2) / (2 * 6.0 ** 2))
    m = (5 * blob + 0.3 * rng.standard_normal((n, n, n))).astype(np.float32)
    volume = (4 / 3) * np.pi * 9.0 ** 3
    box = boxing.find_box(m, 1.0, volume, resolution_A=3.0)
    assert box is not None
    assert all(lo <= c < hi for lo, c, hi in zip(box.lower, (30, 60, 40), box.upper))
    assert np.prod(box.shape) < 0.5 * m.size
    cut = boxing.cut(m, box)
    assert cut.shape == box.shape
    back = boxing.paste(m[box.slices], m, box)
    assert np.allclose(back, m)
    w = box.edge_weight
    assert w.max() == pytest.approx(1.0) and w.min() < 0.05


def test_no_box_when_the_molecule_fills_the_map():
    rng = np.random.default_rng(4)
    m = rng.standard_normal((32, 32, 32)).astype(np.float32)
    assert boxing.find_box(m, 1.0, 0.5 * 32 ** 3, resolution_A=3.0) is None


def test_molecular_volume_larger_than_the_box_is_an_error_and_a_tight_fit_a_warning():
    from resolvecryoem.core.checks import check_molecular_volume
    with pytest.raises(InputError, match=r"1.23e\+09 A\^3 \(molecular mass 1e9\) is 1.2 times "
                                         r"the box of h1.mrc"):
        check_molecular_volume(1.23e9, 1e9, "molecular mass 1e9", "h1.mrc")
    (w,) = check_molecular_volume(0.97e6, 1e6, "sequence s.fasta", "h1.mrc")
    assert "assumed a solvent fraction of 0.05 instead of 0.030" in w
    (w,) = check_molecular_volume(1e3, 1e6, "molecular mass 1 kDa", "h1.mrc")
    assert "assumed a solvent fraction of 0.995" in w
    assert check_molecular_volume(3e5, 1e6, "x", "h1.mrc") == []


def test_masks_must_leave_solvent():
    i = map_info((32, 32, 32), 1.0, path="m.mrc")
    m = np.ones((32, 32, 32), np.float32)
    with pytest.raises(InputError, match="m.mrc: the mask marks 100.00% of the box"):
        check_mask(m, i)
    m[:1] = 0  # 1/32 of the box solvent: enough
    check_mask(m, i)


def test_an_empty_region_gives_an_error_not_an_index_error():
    from resolvecryoem.core.histograms import density_histograms
    rho = np.random.default_rng(0).standard_normal((16, 16, 16)).astype(np.float32)
    with pytest.raises(InputError, match="solvent region of the analysed box"):
        density_histograms(rho, np.ones_like(rho), 0.1)
    s, m = density_histograms(rho, np.full_like(rho, 0.5), 0.1)
    assert np.isfinite(s.density).all() and np.isfinite(m.density).all()
