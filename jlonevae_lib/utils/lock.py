"""A lock file per run folder, so two processes never write the same run.

The lock holds the owner's host and PID. A lock whose owner is gone (same host, PID no longer
alive) is stale — left by a crash — and is taken over, so a killed run can always be resumed.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from types import TracebackType

from jlonevae_lib.utils.errors import JLoneVAEError


class LockedError(JLoneVAEError):
    """Another live process holds the lock."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class FolderLock:
    """Exclusive lock on ``folder`` through ``folder/.lock``.

    ``with FolderLock(run_dir, "training"): ...``
    """

    def __init__(self, folder: str | os.PathLike, purpose: str = "use") -> None:
        self.path = Path(folder) / ".lock"
        self.purpose = purpose
        self._held = False

    def _owner(self) -> dict | None:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError, OSError):
            return {}  # half-written by a crashed owner: treat as stale

    def _is_stale(self, owner: dict) -> bool:
        if owner.get("host") != socket.gethostname():
            return False  # cannot check a PID on another machine; be safe
        pid = owner.get("pid")
        return not isinstance(pid, int) or not _pid_alive(pid)

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "purpose": self.purpose})
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                owner = self._owner()
                if owner is None:
                    continue  # released meanwhile
                if owner and not self._is_stale(owner):
                    raise LockedError(
                        f"{self.path.parent} is in {owner.get('purpose', 'use')} by process "
                        f"{owner.get('pid')} on {owner.get('host')}; wait for it to finish "
                        f"(or delete {self.path} if that process is gone)"
                    ) from None
                self.path.unlink(missing_ok=True)  # stale: its owner crashed
                continue
            with os.fdopen(fd, "w") as f:
                f.write(me)
            self._held = True
            return
        raise LockedError(f"could not take the lock {self.path}; another process keeps taking it")

    def release(self) -> None:
        if self._held:
            self.path.unlink(missing_ok=True)
            self._held = False

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
