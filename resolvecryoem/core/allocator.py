"""How the process gets memory for its maps from the C library.

A run makes and frees map-sized arrays all the time (a transform's output, a product, a
masked copy).  glibc's malloc gives each array above 32 MB pages of its own (mmap) and hands
them back to the kernel when the array is freed (munmap), so every new map-sized array is
fresh memory that the kernel first fills with zeros, page by page: 11% of a 256^3 run's CPU
time went to that (perf: clear_page_erms), and most of its system time (4.9 s of 32 s).
Asked to serve every size from its heap and to keep what is freed, malloc hands the same
memory to the next array of that size: the system time fell to 1.3 s and the peak memory did
not rise (arrays come and go in the same few sizes, so freed blocks fit the next ones).
"""
from __future__ import annotations

import ctypes
import ctypes.util

# glibc's mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


def reuse_freed_memory() -> bool:
    """For the rest of this process (and processes forked from it), serve large arrays from
    malloc's heap and keep freed memory there for the next ones.  True when applied; False
    where the C library is not glibc (nothing changes then).  For a whole run in one process
    (the command line, a pipeline stage): a long-lived process that frees a large working set
    keeps that memory until it exits."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # Trimming is off (the largest positive int) and no block gets pages of its own; mallopt
    # returns 1 on success.
    return bool(mallopt(_M_TRIM_THRESHOLD, 2 ** 31 - 1)) and bool(mallopt(_M_MMAP_MAX, 0))
