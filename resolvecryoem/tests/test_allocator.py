"""The process-level malloc setting of the command line and the pipeline stages."""
import subprocess
import sys

import pytest

PROBE = """
import resource, sys
import numpy as np
if sys.argv[1] == "reuse":
    from resolvecryoem.core.allocator import reuse_freed_memory
    assert reuse_freed_memory()
a = np.ones(1 << 24, np.float32)  # 64 MB: its own pages unless malloc keeps freed memory
del a
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
b = np.ones(1 << 24, np.float32)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt: Linux only")
def test_a_freed_map_sized_array_is_reused_without_new_page_faults():
    """Without the setting, a new 64 MB array after one was freed faults in fresh pages (the
    kernel zeroes each); with it, the freed memory is handed out again."""
    fresh, reused = _faults("default"), _faults("reuse")
    assert fresh >= 16  # 64 MB in 2 MB huge pages at the least
    assert reused < fresh / 4, (fresh, reused)
