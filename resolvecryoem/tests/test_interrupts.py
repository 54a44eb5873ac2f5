"""SIGTERM and SIGINT become Interrupted inside signals_as_interrupts, and only there."""
import os
import signal
import threading

import pytest

from resolvecryoem.core.interrupts import Interrupted, signals_as_interrupts


@pytest.mark.parametrize("signum,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_raises_interrupted_and_cleanup_runs(signum, code):
    cleaned = []
    before = signal.getsignal(signum)
    with pytest.raises(Interrupted) as e:
        with signals_as_interrupts():
            try:
                os.kill(os.getpid(), signum)
                for _ in range(10 ** 6):  # the handler runs between bytecodes
                    pass
            finally:
                cleaned.append(True)
    assert e.value.exit_code == code and e.value.signum == signum
    assert isinstance(e.value, KeyboardInterrupt)
    assert cleaned == [True]
    assert signal.getsignal(signum) == before  # handlers restored


def test_a_second_signal_during_cleanup_is_ignored():
    steps = []
    with pytest.raises(Interrupted):
        with signals_as_interrupts():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                for _ in range(10 ** 6):
                    pass
            finally:
                os.kill(os.getpid(), signal.SIGTERM)  # would abort the cleanup
                for _ in range(10 ** 5):
                    pass
                steps.append("cleanup finished")
    assert steps == ["cleanup finished"]


def test_outside_the_main_thread_nothing_changes():
    seen = []

    def work():
        with signals_as_interrupts():
            seen.append(signal.getsignal(signal.SIGTERM))

    t = threading.Thread(target=work)
    t.start()
    t.join()
    assert seen == [signal.getsignal(signal.SIGTERM)]
