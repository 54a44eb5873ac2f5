"""SIGINT and SIGTERM as an exception, so that interrupted runs clean up like failed ones.

Python turns SIGINT into KeyboardInterrupt but lets SIGTERM (what ``kill``, SLURM's
``scancel`` and most workflow managers send) end the process at once, without running
``finally`` blocks or ``except BaseException`` cleanups: the state folder and temporary files
stay behind.  Inside :func:`signals_as_interrupts` both raise :class:`Interrupted`, a
KeyboardInterrupt, so every cleanup written for errors also runs on an interrupt.
"""
from __future__ import annotations

import contextlib
import signal
import threading


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal; ``signum`` says which, ``exit_code`` is 128 + signum
    (the shell's convention: 130 for SIGINT, 143 for SIGTERM)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


HANDLED = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_as_interrupts():
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` (once: a second signal
    while the first is being cleaned up after is ignored, so that the cleanup completes).

    Only the main thread can set signal handlers; elsewhere (a Scipion step run in a thread)
    the block runs unchanged.  The previous handlers are restored on leaving.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def handler(signum, frame):
        if fired:
            return  # already unwinding: let the cleanup finish
        fired.append(signum)
        raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in HANDLED}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@contextlib.contextmanager
def signals_deferred():
    """Within the block, SIGINT and SIGTERM are held back and acted on when it ends: for
    short steps that must not be cut in two (publishing the output set).  On leaving, a
    held-back signal raises :class:`Interrupted` (the work of the block is complete by then).
    Outside the main thread the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held = []
    previous = {s: signal.signal(s, lambda signum, frame: held.append(signum))
                for s in HANDLED}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
    if held:
        raise Interrupted(held[0])
