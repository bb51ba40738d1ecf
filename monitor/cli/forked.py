"""A function run in a forked child process while the caller goes on; its result comes
back through a pipe.

For CPU-bound pandas and numpy work, which holds the GIL (two threads ran no faster than
one): the child starts with the parent's memory shared copy-on-write, so a large frame is
neither copied nor pickled on the way in; only the result is pickled on the way back.
Where the platform cannot fork, the function runs at once in this process.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any

__all__ = ["forked"]


def forked(func: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """Start ``func(*args)`` in a forked child; return a function that waits for the child
    and returns ``func``'s result or raises its exception.

    Call the returned function exactly once (it reaps the child). ``ChildProcessError``
    when the child died without a result (killed, out of memory).
    """
    if not hasattr(os, "fork"):
        try:
            value = func(*args)
        except Exception as err:  # noqa: BLE001 - handed to the caller as the child's would be
            return _raiser(err)
        return lambda: value
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        status = 1
        try:
            os.close(read_end)
            try:
                outcome = (True, func(*args))
            except Exception as err:  # noqa: BLE001 - sent to the parent
                outcome = (False, err)
            with os.fdopen(write_end, "wb") as pipe:
                pickle.dump(outcome, pipe, protocol=pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            os._exit(status)  # no atexit handlers, no flushing of the parent's buffers
    os.close(write_end)

    def result() -> Any:
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()  # read before waiting: a full pipe would block the child
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0 or not data:
            raise ChildProcessError(f"the forked child exited with status {os.waitstatus_to_exitcode(status)}")
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value

    return result


def _raiser(err: Exception) -> Callable[[], Any]:
    def result() -> Any:
        raise err

    return result
