"""The worker side of the process pool (`crawler.pools.process`), and the frames
both sides speak.

A frame is a header (`HEADER`: the payload's length, the task's id, its kind) and a
pickle. The main process sends TASK frames, `(func, args, kwds)`; a worker answers
each with a RESULT frame (what `func` returned) or an ERROR frame (what it raised,
or why its answer could not be pickled), on the same channel.

A worker, in order: ignores SIGINT and SIGHUP (the main process decides what a
stop means), closes the files it inherited that are the main process's alone
(under `fork`), starts watching for the main process's death, runs the pool's
initializer, then answers tasks until the channel ends. With one thread it runs
each task on its main thread, where a timer signal can interrupt a blocking read
(`crawler.fetching.fetch.attempt_deadline`); with more, its main thread reads tasks and
hands them to that many threads, which answer under one lock.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable

# A frame: payload length, task id, kind; then the pickled payload.
HEADER = struct.Struct("!QqB")
TASK, RESULT, ERROR = 0, 1, 2
PROTOCOL = pickle.HIGHEST_PROTOCOL
SEND_WHOLE = 256 * 1024  # a frame smaller than this goes out in one write


def worker_main(
    channel: socket.socket,
    threads: int,
    initializer: Callable[..., None] | None,
    initargs: tuple,
    inherited: tuple[socket.socket, ...],
) -> None:
    """A worker process: set up, then answer tasks until the channel ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for end in inherited:
        end.close()
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    if initializer is not None:
        initializer(*initargs)
    reader = channel.makefile("rb")
    sending = threading.Lock()

    def answer(task_id: int, payload: bytes) -> None:
        kind, data = _run(payload)
        header = HEADER.pack(len(data), task_id, kind)
        try:
            with sending:
                if len(data) < SEND_WHOLE:
                    channel.sendall(header + data)
                else:
                    channel.sendall(header)
                    channel.sendall(data)
        except OSError:  # the main process is gone
            os._exit(1)

    if threads == 1:
        while (task := _read_task(reader)) is not None:
            answer(*task)
        return
    tasks: queue.SimpleQueue = queue.SimpleQueue()

    def work() -> None:
        while (task := tasks.get()) is not None:
            answer(*task)

    workers = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for thread in workers:
        thread.start()
    while (task := _read_task(reader)) is not None:
        tasks.put(task)
    for _ in workers:
        tasks.put(None)
    for thread in workers:
        thread.join()


def _read_task(reader) -> tuple[int, bytes] | None:
    """The next task's id and payload; None when the main process closed the channel,
    or reset it: a main process that ends with answers it has not read (a full disk
    stops a run at once) resets the connection, and that is an end, not a traceback."""
    try:
        header = reader.read(HEADER.size)
        if len(header) < HEADER.size:
            return None
        length, task_id, _ = HEADER.unpack(header)
        payload = reader.read(length)
    except OSError:
        return None
    if len(payload) < length:
        return None
    return task_id, payload


def _run(payload: bytes) -> tuple[int, bytes]:
    """Run one task; its outcome as a frame kind and a pickle that can always be sent."""
    try:
        func, args, kwds = pickle.loads(payload)
        kind, value = RESULT, func(*args, **kwds)
    except Exception as error:  # noqa: BLE001 - the task's error goes to its error_callback
        kind, value = ERROR, error
    try:
        return kind, pickle.dumps(value, PROTOCOL)
    except Exception as error:  # noqa: BLE001 - an answer that cannot be pickled
        try:
            return ERROR, pickle.dumps(error, PROTOCOL)
        except Exception:  # noqa: BLE001
            return ERROR, pickle.dumps(RuntimeError(f"cannot send back {type(value).__name__}"))


def _exit_with_parent(parent: int) -> None:
    """Exit within a second of the main process's death, however it died.

    Under `fork` and `spawn` the main process is this worker's parent. Under
    `forkserver` the parent is the fork server, which outlives a killed main
    process as long as any worker does, so the worker also watches the sentinel
    of the process that created it: the main process."""
    creator = multiprocessing.parent_process()
    sentinel = creator.sentinel if creator is not None else None
    while os.getppid() == parent:
        if sentinel is None:
            time.sleep(0.5)
        elif multiprocessing.connection.wait([sentinel], timeout=0.5):
            break
    os._exit(1)
