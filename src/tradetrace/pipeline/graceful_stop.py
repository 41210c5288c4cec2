"""Graceful stop: SIGTERM and SIGINT flush first, then reach the handler that was there before.

:func:`install_stop_handlers` (main thread only, once per process) puts one handler on SIGTERM
and SIGINT. It calls ``on_stop(final)``, then chains to the handler it replaced:

* a Python handler (the application's, installed before tradetrace, or Python's own
  ``default_int_handler``, which raises ``KeyboardInterrupt``) is called with
  ``(signum, frame)``; whatever it raises reaches the application unchanged;
* ``SIG_DFL``: the default is restored and the signal raised again, so the process ends the
  conventional way (killed by SIGTERM: exit status 143, ``returncode == -15``).

``final`` is True only for ``SIG_DFL``, where the process ends right after: ``on_stop`` may close
everything. Otherwise the application's handler decides what happens next, so ``on_stop`` should
only flush and leave recording possible. A signal that is ignored (``SIG_IGN``) or handled outside
Python is left alone. A handler the application installs later replaces this one (``atexit``
still flushes on ``sys.exit``); it can call ``tradetrace.flush_all()`` itself.

The handler runs on the main thread between two bytecodes, possibly inside tradetrace holding a
lock: ``on_stop`` must only take re-entrant locks there, or wait for others with a timeout.

A second stop signal while ``on_stop`` runs cuts it short and chains at once (a second Ctrl-C
stops now). ``on_stop`` must return by its own deadline; nothing it raises escapes.
``TRADETRACE_HANDLE_SIGNALS=0`` (or ``false``, ``no``, ``off``) turns all of this off.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

logger = logging.getLogger("tradetrace")

ENV_SWITCH = "TRADETRACE_HANDLE_SIGNALS"
STOP_SIGNALS = ("SIGTERM", "SIGINT")
_OFF = frozenset({"0", "false", "no", "off"})

Handler = Callable[[int, FrameType | None], Any] | int | None  # what signal.getsignal returns
OnStop = Callable[[bool], object]

_previous: dict[int, Handler] = {}  # signal -> the handler tradetrace replaced
_on_stop: OnStop | None = None
_flushing = False  # on_stop is running inside the handler
_arrived: list[int] = []  # stop signals that cut it short
_lock = threading.Lock()  # install and uninstall; never taken by the handler


class _StopNow(BaseException):
    """Raised by a second stop signal to end the flush the first one started."""


def enabled() -> bool:
    """False when ``TRADETRACE_HANDLE_SIGNALS`` says off."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in _OFF


def installed() -> dict[int, Handler]:
    """The signals tradetrace handles, each with the handler it chains to."""
    return dict(_previous)


def install_stop_handlers(on_stop: OnStop) -> bool:
    """Handle SIGTERM and SIGINT with ``on_stop`` then the previous handler; True if installed.

    Idempotent: the first ``on_stop`` stays. Does nothing and returns False off the main thread,
    when ``TRADETRACE_HANDLE_SIGNALS=0``, or when neither signal can be handled. Never raises.
    """
    global _on_stop
    if not enabled() or threading.current_thread() is not threading.main_thread():
        return False
    try:
        with _lock:
            for name in STOP_SIGNALS:
                signum = getattr(signal, name, None)
                if signum is None or signum in _previous:
                    continue
                current = signal.getsignal(signum)
                if current is None or current is _handle or current == signal.SIG_IGN:
                    continue  # set outside Python, ours already, or ignored on purpose
                if _on_stop is None:
                    _on_stop = on_stop
                signal.signal(signum, _handle)
                _previous[signum] = current
            return bool(_previous)
    except Exception as exc:  # ValueError outside the main interpreter, OSError, ...
        logger.debug("tradetrace: stop signals not handled (%s)", exc)
        return bool(_previous)


def uninstall_stop_handlers() -> bool:
    """Put back the handlers tradetrace replaced (where its own is still installed) and forget
    them; main thread only. True when none of tradetrace's handlers is installed any more."""
    global _on_stop
    if threading.current_thread() is not threading.main_thread():
        return not _previous
    with _lock:
        for signum, previous in list(_previous.items()):
            try:
                if signal.getsignal(signum) is _handle:
                    signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
            except (ValueError, OSError, TypeError) as exc:
                logger.debug("tradetrace: could not restore signal %s (%s)", signum, exc)
                return False
            del _previous[signum]
        _on_stop = None
    return True


def _handle(signum: int, frame: FrameType | None) -> None:
    """The installed handler: ``on_stop`` (a second stop signal cuts it short), then chain."""
    global _flushing
    if _flushing:
        _arrived.append(signum)
        raise _StopNow
    previous = _previous.get(signum, signal.SIG_DFL)
    failure: Exception | None = None
    try:
        _flushing = True
        if _on_stop is not None:
            _on_stop(previous == signal.SIG_DFL)
    except _StopNow:
        failure = None  # a second stop signal: leave the flush, go on to the chain
    except Exception as exc:  # on_stop must not raise; if it does, the chain still runs
        failure = exc
    finally:
        _flushing = False
    arrived = [s for s in dict.fromkeys(_arrived) if s != signum]
    _arrived.clear()
    if failure is not None:
        _log_failure(failure)
    _chain(signum, previous, frame)
    for other in arrived:
        _chain(other, _previous.get(other, signal.SIG_DFL), frame)


def _chain(signum: int, previous: Handler, frame: FrameType | None) -> None:
    """Hand the signal on to the handler tradetrace replaced."""
    if callable(previous):
        previous(signum, frame)  # the application's own: what it raises passes unchanged
        return
    if previous != signal.SIG_DFL:
        return  # SIG_IGN
    _previous.pop(signum, None)
    signal.signal(signum, signal.SIG_DFL)
    signal.raise_signal(signum)  # the calling thread: the default action happens now
    os.kill(os.getpid(), signum)  # only reached if this thread blocks the signal


def _log_failure(exc: Exception) -> None:
    with contextlib.suppress(Exception):  # a broken logging setup must not stop the chain
        logger.warning("tradetrace: flush on stop signal failed (%s: %s)", type(exc).__name__, exc)
