"""The output folder: checked before any work starts.

A run writes only into its output folder; these checks turn what would be an OSError deep in
the run (or, worse, after an hour of work) into an InputError naming the folder at the start.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InputError


def check_output_dir(path, inputs=()) -> None:
    """InputError unless ``path`` is, or can be created as, a folder we can write in, and
    writing our outputs there would not overwrite one of the ``inputs`` (paths).

    Nothing is left behind: the folder is not created, and the write test (a temporary folder
    in the nearest existing ancestor) is removed at once.
    """
    from .pipeline import OUTPUTS  # the output names; the pipeline owns them

    p = Path(path)
    if p.is_symlink() and not p.exists():
        raise InputError(f"output folder {p}: a link to {os.readlink(p)}, which does not "
                         f"exist")
    if p.exists() and not p.is_dir():
        raise InputError(f"output folder {p} is a file, not a folder")
    existing = p
    while not existing.exists():
        if existing.is_symlink():
            raise InputError(f"output folder {p}: {existing} is a link to "
                             f"{os.readlink(existing)}, which does not exist")
        parent = existing.parent
        if parent == existing:
            break
        existing = parent
    if not existing.is_dir():
        raise InputError(f"output folder {p} cannot be made: {existing} is a file, not a "
                         f"folder")
    try:
        probe = tempfile.mkdtemp(prefix=".resolvecryoem-write-test-", dir=existing)
        os.rmdir(probe)
    except OSError as e:
        where = "in it" if existing == p else f"in {existing}"
        raise InputError(f"output folder {p}: cannot write {where} ({e.strerror}; a "
                         f"read-only or system file system?)") from None
    outputs = {(p / name).resolve() for name in OUTPUTS.values()}
    for f in inputs:
        if f is not None and Path(f).resolve() in outputs:
            raise InputError(f"{f}: an input file has the name of an output in {p}; the run "
                             f"would overwrite it. Choose another output folder")
