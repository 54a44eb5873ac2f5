"""Map reading and writing: axis order, start/origin, voxel size, atomic writes, errors."""
import mrcfile
import numpy as np
import pytest

from resolvecryoem.core.errors import InputError
from resolvecryoem.core.mapio import atomic_write_text, map_info, read_map, write_map

from ._data import shared_file


def _write_raw(path, data_file_order, mapc, mapr, maps, nstart=(0, 0, 0), origin=(0, 0, 0),
               voxel=(1.0, 1.0, 1.0)):
    with mrcfile.new(str(path), overwrite=True) as m:
        m.set_data(data_file_order.astype(np.float32))
        h = m.header
        h.mapc, h.mapr, h.maps = mapc, mapr, maps
        ns, nr, nc = data_file_order.shape
        # cell / sampling per x, y, z
        n_by_axis = {mapc: nc, mapr: nr, maps: ns}
        h.mx, h.my, h.mz = n_by_axis[1], n_by_axis[2], n_by_axis[3]
        h.cella.x, h.cella.y, h.cella.z = (n_by_axis[a + 1] * voxel[a] for a in range(3))
        h.nxstart, h.nystart, h.nzstart = nstart
        h.origin.x, h.origin.y, h.origin.z = origin


@pytest.mark.parametrize("order", [(1, 2, 3), (3, 1, 2), (2, 3, 1), (3, 2, 1)])
def test_axis_order_is_normalised_to_zyx(tmp_path, order):
    rng = np.random.default_rng(0)
    canonical = rng.standard_normal((6, 7, 8)).astype(np.float32)  # z, y, x
    mapc, mapr, maps = order
    # File array axes are (section, row, column) = axes (maps, mapr, mapc); canonical axis
    # index of x is 2, y is 1, z is 0.
    axis_index = {1: 2, 2: 1, 3: 0}
    file_data = np.transpose(canonical, (axis_index[maps], axis_index[mapr], axis_index[mapc]))
    _write_raw(tmp_path / "m.mrc", file_data, mapc, mapr, maps, voxel=(1.1, 1.2, 1.3))
    data, info = read_map(tmp_path / "m.mrc")
    assert data.shape == (6, 7, 8)
    assert np.array_equal(data, canonical)
    assert np.allclose(info.voxel_size, (1.3, 1.2, 1.1))


def test_nstart_and_origin(tmp_path):
    d = np.zeros((4, 5, 6), np.float32)
    d[1, 2, 3] = 1
    _write_raw(tmp_path / "n.mrc", d, 1, 2, 3, nstart=(-3, 2, 5), voxel=(2.0, 2.0, 2.0))
    _, info = read_map(tmp_path / "n.mrc")
    assert np.allclose(info.start_A, (10.0, 4.0, -6.0))  # z, y, x = nstart * voxel
    _write_raw(tmp_path / "o.mrc", d, 1, 2, 3, nstart=(-3, 2, 5), origin=(7.0, 8.0, 9.0))
    _, info = read_map(tmp_path / "o.mrc")
    assert np.allclose(info.start_A, (9.0, 8.0, 7.0))  # ORIGIN wins when non-zero


def test_write_read_round_trip_keeps_geometry(tmp_path):
    rng = np.random.default_rng(1)
    d = rng.standard_normal((10, 11, 12)).astype(np.float32)
    info = map_info(d.shape, (1.5, 1.25, 1.0), start_A=(3.0, -4.5, 6.0))
    write_map(tmp_path / "a.mrc", d, info)
    back, binfo = read_map(tmp_path / "a.mrc")
    assert np.array_equal(back, d)
    assert np.allclose(binfo.voxel_size, info.voxel_size)
    assert np.allclose(binfo.start_A, info.start_A)
    # and again from a read info (what the pipeline does with the user's half map)
    write_map(tmp_path / "b.mrc", d * 2, binfo)
    _, cinfo = read_map(tmp_path / "b.mrc")
    assert np.allclose(cinfo.start_A, info.start_A)
    assert [p.name for p in tmp_path.iterdir() if ".tmp" in p.name] == []


def test_unreadable_and_truncated_files_name_the_file(tmp_path):
    bad = tmp_path / "not_a_map.mrc"
    bad.write_text("hello, I am not a map")
    with pytest.raises(InputError, match="not_a_map.mrc"):
        read_map(bad)
    good = tmp_path / "good.mrc"
    write_map(good, np.ones((8, 8, 8), np.float32), map_info((8, 8, 8), 1.0))
    trunc = tmp_path / "truncated.mrc"
    trunc.write_bytes(good.read_bytes()[:1500])
    with pytest.raises(InputError, match="truncated.mrc"):
        read_map(trunc)
    with pytest.raises(InputError, match="missing.mrc"):
        read_map(tmp_path / "missing.mrc")


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        write_map(tmp_path / "x.mrc", np.ones((3, 3, 3)), map_info((4, 4, 4), 1.0))
    assert list(tmp_path.iterdir()) == []
    atomic_write_text(tmp_path / "t.json", "{}")
    assert [p.name for p in tmp_path.iterdir()] == ["t.json"]


def test_origin_puts_real_model_on_density():
    import gemmi
    mp = shared_file("emd_2566_zone", "2566_3J6B_9.mrc")
    d, info = read_map(mp)
    st = gemmi.read_structure(str(shared_file("emd_2566_zone", "3J6B_9.pdb")))
    xyz = np.array([a.pos.tolist() for ch in st[0] for r in ch for a in r])
    idx = np.rint((xyz[:, ::-1] - info.start_A) / info.voxel_size).astype(int)
    assert np.all((idx >= 0) & (idx < np.array(d.shape)))
    at_atoms = d[tuple(idx.T)]
    assert at_atoms.mean() > d.mean() + 1.5 * d.std()


def test_header_only_reads_geometry_without_data(tmp_path):
    d = np.zeros((5, 6, 7), np.float32)
    _write_raw(tmp_path / "h.mrc", d, 3, 1, 2, nstart=(1, 2, 3), voxel=(1.5, 1.5, 1.5))
    full, info_full = read_map(tmp_path / "h.mrc")
    none, info = read_map(tmp_path / "h.mrc", header_only=True)
    assert none is None
    assert info.shape == full.shape == info_full.shape
    assert np.allclose(info.start_A, info_full.start_A)


def test_written_header_statistics_describe_the_data(tmp_path):
    """Viewers scale maps by the header's min, max, mean and rms: they must be the data's."""
    data = np.random.default_rng(1).standard_normal((10, 12, 14)).astype(np.float32) * 3 + 1
    write_map(tmp_path / "s.mrc", data, map_info(data.shape, 1.5, (0.0, 0.0, 0.0)))
    with mrcfile.open(tmp_path / "s.mrc") as m:
        h = m.header
        assert np.isclose(h.dmin, data.min()) and np.isclose(h.dmax, data.max())
        assert np.isclose(h.dmean, data.mean(), atol=1e-5)
        assert np.isclose(h.rms, data.std(), rtol=1e-5)
