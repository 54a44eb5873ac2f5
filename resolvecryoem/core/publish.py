"""The output folder: checked before any work starts, and the output set published as a whole.

A run writes only into its output folder; :func:`check_output_dir` turns what would be an
OSError deep in the run (or after an hour of work) into an InputError naming the folder at
the start.

Publishing.  Outputs are written into a staging folder (inside the run's state folder) and
moved into the output folder by :func:`publish` as one set: the moves and the removal of
the previous run's outputs that this run does not produce (e.g. its local_resolution.mrc)
are written down first in a journal, then carried out with SIGINT/SIGTERM held back, then
the journal is removed.  A run killed outright (SIGKILL, power cut) half-way leaves the
journal; :func:`recover`, called when the next run (or stage) starts, completes the
publishing from it.  So the output folder never keeps a mix of two runs, and results.json,
moved last, always describes the maps beside it.  Only files named as outputs and recorded
in the previous results.json are ever removed: a user's own files in the folder are kept.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

from .errors import InputError
from .interrupts import signals_deferred

JOURNAL = ".resolvecryoem-publishing.json"
RESULTS = "results.json"
# mapio's temporary files: ".<name>.tmp-<pid>"
_TMP = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")


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


def _output_names() -> set:
    from .pipeline import OUTPUTS
    return set(OUTPUTS.values())


def published_names(out) -> list:
    """Names of the outputs of the run published in ``out`` (from its results.json; only
    names this program writes), [] when there is none."""
    out = Path(out)
    try:
        outputs = json.loads((out / RESULTS).read_text()).get("outputs", {})
        names = set(outputs.values()) if isinstance(outputs, dict) else set()
    except (OSError, ValueError, AttributeError):
        return []
    return sorted((names | {RESULTS}) & _output_names())


def publish(out, staged: dict) -> None:
    """Move ``staged`` ({output name: staged file}) into ``out`` as one set, removing the
    previous run's outputs that are not in it.  results.json (if staged) moves last."""
    from .mapio import atomic_write_text
    out = Path(out)
    unknown = set(staged) - _output_names()
    if unknown:
        raise ValueError(f"not output names: {sorted(unknown)}")
    order = sorted(staged, key=lambda n: n == RESULTS)
    journal = {"moves": [[os.path.relpath(staged[n], out), n] for n in order],
               "remove": [n for n in published_names(out) if n not in staged]}
    with signals_deferred():
        atomic_write_text(out / JOURNAL, json.dumps(journal, indent=1))
        _carry_out(out, journal)


def _carry_out(out: Path, journal: dict) -> None:
    for name in journal["remove"]:
        if name in _output_names():
            (out / name).unlink(missing_ok=True)
    for src, name in journal["moves"]:
        if os.path.isabs(src) or src.split(os.sep)[0] == "..":
            continue  # staged files are inside the output folder; nothing else is moved
        if (out / src).exists():  # else moved already, before a crash
            os.replace(out / src, out / name)
    (out / JOURNAL).unlink()


def recover(out) -> list:
    """Put ``out`` right after a run that was killed outright; messages for the log.

    Completes a publishing that was cut short (from its journal), and removes temporary files
    of this program whose process is gone.  Call before the state folder is cleared.
    """
    out = Path(out)
    notes = []
    if not out.is_dir():
        return notes
    jpath = out / JOURNAL
    if jpath.exists():
        try:
            journal = json.loads(jpath.read_text())
            moves = journal["moves"]
            remove = journal["remove"]
        except (OSError, ValueError, KeyError, TypeError):
            jpath.unlink()
            notes.append(f"removed an unreadable publishing journal {jpath}")
        else:
            pending = [n for src, n in moves if (out / src).exists()]
            if pending and all((out / src).exists() or (out / n).exists() for src, n in moves):
                _carry_out(out, {"moves": moves, "remove": remove})
                notes.append(f"completed the publishing of outputs that an interrupted run "
                             f"had started in {out} ({', '.join(pending)})")
            elif not pending:
                jpath.unlink()  # everything had been moved; only the journal was left
            else:
                # Staged files lost (the state folder removed by hand): the set cannot be
                # completed, and a mix of two runs must not stay.
                for _, n in moves:
                    if n in _output_names():
                        (out / n).unlink(missing_ok=True)
                jpath.unlink()
                notes.append(f"removed an incomplete output set in {out}: an interrupted run "
                             f"had started publishing it and its staged files are gone")
    for f in out.iterdir():
        m = _TMP.match(f.name)
        if m and f.is_file() and not _alive(int(m.group("pid"))) and (
                m.group("name") in _output_names() | {JOURNAL}):
            f.unlink()
            notes.append(f"removed the stale temporary file {f}")
    return notes


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
