"""cctbx half-map sharpening, the peer of the benchmark (run with an interpreter that has
cctbx-base; it pins numpy/scipy versions that Scipion's stack cannot share, so the benchmark
calls it in a separate process: --cctbx-python PATH).

    python cctbx_peer.py half1.mrc half2.mrc out.mrc RESOLUTION LOCAL(0|1)
"""
import sys

from iotbx.data_manager import DataManager
from iotbx.map_model_manager import map_model_manager


def main(h1, h2, out, resolution, local):
    dm = DataManager()
    m1, m2 = dm.get_real_map(h1), dm.get_real_map(h2)
    mmm = map_model_manager(map_manager_1=m1, map_manager_2=m2)
    mmm.half_map_sharpen(resolution=float(resolution), local_sharpen=bool(int(local)),
                         nproc=1)
    mmm.map_manager().write_map(out)


if __name__ == "__main__":
    main(*sys.argv[1:6])
