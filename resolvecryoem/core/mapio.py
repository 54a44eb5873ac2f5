"""Reading and writing MRC/CCP4 maps with their geometry (axis order, start, origin, voxel size).

Arrays are returned in canonical (z, y, x) order whatever MAPC/MAPR/MAPS say, float32.
Geometry follows ChimeraX: the model coordinates of array voxel [0, 0, 0] are the MRC-2000
ORIGIN field when it is non-zero, otherwise NXSTART/NYSTART/NZSTART x voxel size; voxel
(k, j, i) sits at start + (i vx, j vy, k vz).  Outputs are written canonical (MAPC, MAPR,
MAPS = 1, 2, 3) with the same voxel size, box and origin, atomically (temporary name in the
same folder, then rename), so a failed run never leaves a half-written file.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import mrcfile
import numpy as np

from .errors import InputError


@dataclass
class MapInfo:
    """Geometry of a map. Per-axis quantities are in array order (z, y, x)."""

    path: str
    shape: tuple
    voxel_size: np.ndarray   # (vz, vy, vx), A
    start_A: np.ndarray      # (z, y, x) model coordinates of voxel [0, 0, 0], A
    nstart: tuple = (0, 0, 0)       # (z, y, x) NSTART in voxels, kept for writing
    origin_field: tuple = (0.0, 0.0, 0.0)  # (z, y, x) MRC-2000 ORIGIN, A, kept for writing

    @property
    def box_volume_A3(self) -> float:
        return float(np.prod(np.asarray(self.shape) * self.voxel_size))


def map_info(shape, voxel_size, start_A=(0.0, 0.0, 0.0), path="<generated>") -> MapInfo:
    """MapInfo for a generated map (voxel_size scalar or (vz, vy, vx); start_A in (z, y, x))."""
    vs = np.broadcast_to(np.asarray(voxel_size, dtype=np.float64), (3,)).copy()
    start = np.asarray(start_A, dtype=np.float64)
    return MapInfo(str(path), tuple(int(n) for n in shape), vs, start,
                   origin_field=tuple(float(v) for v in start))


def with_voxel_size(info: MapInfo, voxel_size_A) -> MapInfo:
    """The same map with another voxel size (a recalibrated pixel size): the start in A is
    the header ORIGIN when set, else NSTART x the new voxel size."""
    vs = np.broadcast_to(np.asarray(voxel_size_A, dtype=np.float64), (3,)).copy()
    start = np.asarray(info.origin_field, dtype=np.float64) if any(info.origin_field) \
        else np.asarray(info.nstart, dtype=np.float64) * vs
    return MapInfo(info.path, info.shape, vs, start, info.nstart, info.origin_field)


def read_map(path, header_only: bool = False) -> tuple:
    """(data float32 (z, y, x), MapInfo) of an MRC/CCP4 file; InputError if unreadable.

    ``header_only``: (None, MapInfo) without reading the data (form validation, wizards).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                mrc = mrcfile.open(str(path), mode="r", permissive=False,
                                   header_only=header_only)
            except ValueError as e:
                raise InputError(f"{path}: not a readable MRC/CCP4 map ({e})") from None
        with mrc:
            h = mrc.header
            if header_only:
                data = None
                file_shape = (int(h.nz), int(h.ny), int(h.nx))
                complex_data = int(h.mode) in (3, 4)
            else:
                if mrc.data is None:
                    raise InputError(f"{path}: no map data (truncated file?)")
                data = np.asarray(mrc.data)
                file_shape = data.shape
                complex_data = np.iscomplexobj(data)
            if len(file_shape) != 3 or min(file_shape) < 1:
                raise InputError(f"{path}: a 3-D map is needed, this one has shape "
                                 f"{file_shape}")
            if complex_data:
                raise InputError(f"{path}: complex (Fourier) data, a real-space map is needed")
            # File axes (slowest..fastest) are (maps, mapr, mapc), values 1=x, 2=y, 3=z.
            axis_of = [int(h.maps), int(h.mapr), int(h.mapc)]
            if sorted(axis_of) != [1, 2, 3]:
                raise InputError(f"{path}: invalid axis order MAPC/MAPR/MAPS = "
                                 f"{h.mapc}/{h.mapr}/{h.maps}")
            # Canonical order: z (3) slowest, then y (2), then x (1).
            perm = [axis_of.index(3), axis_of.index(2), axis_of.index(1)]
            shape = tuple(int(file_shape[i]) for i in perm)
            data = None if header_only else np.ascontiguousarray(np.transpose(data, perm),
                                                                  dtype=np.float32)
            # NXSTART belongs to the column axis (mapc), NYSTART to rows, NZSTART to sections.
            nstart_by_axis = {int(h.mapc): int(h.nxstart), int(h.mapr): int(h.nystart),
                              int(h.maps): int(h.nzstart)}
            nstart = (nstart_by_axis[3], nstart_by_axis[2], nstart_by_axis[1])
            mx, my, mz = int(h.mx), int(h.my), int(h.mz)
            cella = (float(h.cella.x), float(h.cella.y), float(h.cella.z))
            if min(mx, my, mz) > 0 and min(cella) > 0:
                vx, vy, vz = cella[0] / mx, cella[1] / my, cella[2] / mz
            else:
                vs = mrc.voxel_size
                vx, vy, vz = float(vs.x), float(vs.y), float(vs.z)
            if min(vx, vy, vz) <= 0:
                raise InputError(f"{path}: voxel size is zero in the header")
            voxel = np.array([vz, vy, vx])
            origin = (float(h.origin.z), float(h.origin.y), float(h.origin.x))
    except InputError:
        raise
    except (OSError, EOFError) as e:
        raise InputError(f"{path}: cannot read the map ({e})") from None
    if any(origin):
        start = np.array(origin)
    else:
        start = np.asarray(nstart, dtype=np.float64) * voxel
    return data, MapInfo(str(path), shape, voxel, start, nstart, origin)


def write_map(path, data: np.ndarray, info: MapInfo) -> None:
    """Write float32 data (z, y, x) in the box of ``info``, atomically."""
    path = Path(path)
    data = np.asarray(data, dtype=np.float32)
    if tuple(data.shape) != tuple(info.shape):
        raise ValueError(f"map of shape {data.shape} does not fit the box {info.shape}")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with mrcfile.new(str(tmp), overwrite=True) as mrc:
            mrc.set_data(data)  # also sets the header's min, max, mean and rms
            vz, vy, vx = (float(v) for v in info.voxel_size)
            mrc.voxel_size = (vx, vy, vz)
            h = mrc.header
            h.nzstart, h.nystart, h.nxstart = (int(n) for n in info.nstart)
            oz, oy, ox = (float(v) for v in info.origin_field)
            h.origin.x, h.origin.y, h.origin.z = ox, oy, oz
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def atomic_write_text(path, text: str) -> None:
    """Write a text file atomically (temporary name in the same folder, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise
