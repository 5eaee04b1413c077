"""Which task each worker process is running, kept in shared memory.

`multiprocessing.Pool` never answers the task of a worker that died (SIGKILL, a
segfault, the OOM killer): it quietly starts a new worker and the task stays
pending forever. With this board the main process can name that task within a
second of the death instead of waiting for the watchdog's time limit.

Each worker claims a slot at start-up and writes the id of the task it runs into
it; the main process looks for slots whose process is gone with a task still set.
"""

from __future__ import annotations

import os
from multiprocessing.context import BaseContext

_IDLE = 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class TaskBoard:
    def __init__(self, context: BaseContext, workers: int) -> None:
        # Twice the slots: a dead worker's slot stays claimed until it is read.
        self._shared = context.Array("q", 2 * 2 * workers)
        self._slot = -1

    # -- in a worker --------------------------------------------------------------
    def claim(self) -> None:
        """Take a free slot for this worker process (at pool start-up)."""
        pid = os.getpid()
        with self._shared.get_lock():
            cells = self._shared.get_obj()
            for slot in range(len(cells) // 2):
                owner = cells[2 * slot]
                if owner == 0 or (
                    owner != pid and not _alive(owner) and cells[2 * slot + 1] == _IDLE
                ):
                    cells[2 * slot], cells[2 * slot + 1] = pid, _IDLE
                    self._slot = slot
                    return

    def running(self, task_id: int) -> None:
        if self._slot >= 0:
            self._shared.get_obj()[2 * self._slot + 1] = task_id

    def idle(self) -> None:
        self.running(_IDLE)

    # -- in the main process ------------------------------------------------------
    def lost_tasks(self) -> list[int]:
        """Tasks whose worker is gone; their slots are freed for new workers."""
        lost = []
        with self._shared.get_lock():
            cells = self._shared.get_obj()
            for slot in range(len(cells) // 2):
                owner, task = cells[2 * slot], cells[2 * slot + 1]
                if owner and task != _IDLE and not _alive(owner):
                    lost.append(task)
                    cells[2 * slot + 1] = _IDLE
        return lost
