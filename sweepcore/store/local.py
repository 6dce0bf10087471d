"""A results store in a local folder (the default: ``./sweeps``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from sweepcore.store.base import StoreError

__all__ = ["LocalBlobStore"]


class LocalBlobStore:
    """Objects as files under a root folder.

    Writes go to a temporary file in the same folder and are renamed into place, so readers
    never see a torn file. :meth:`create` hard-links the finished temporary file to its name,
    which fails if the name exists: an atomic create-if-absent on every POSIX file system.

    Args:
        root: The folder; created on first write.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.url = str(root)
        self.root = Path(root).expanduser().resolve()

    def _path(self, key: str) -> Path:
        return self.root / key

    def _temp_file(self, path: Path, data: bytes) -> str:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        return tmp

    def read(self, key: str) -> bytes | None:
        """The file's bytes, or ``None`` when it does not exist."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, key: str, data: bytes) -> None:
        """Replace the file atomically (temporary file + rename)."""
        path = self._path(key)
        os.replace(self._temp_file(path, data), path)

    def create(self, key: str, data: bytes) -> bool:
        """Create the file only if absent; ``False`` when it exists."""
        path = self._path(key)
        tmp = self._temp_file(path, data)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
        return True

    def list(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``, sorted; temporary files are skipped."""
        base = self.root / prefix.rsplit("/", 1)[0] if "/" in prefix else self.root
        if not base.is_dir():
            return []
        keys = []
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                if name.startswith(".tmp-"):
                    continue
                key = Path(dirpath, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return sorted(keys)

    def delete(self, key: str) -> None:
        """Remove the file if it exists."""
        self._path(key).unlink(missing_ok=True)

    def check(self) -> None:
        """Raise :class:`StoreError` if the folder cannot be created or written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self._temp_file(self.root / ".probe", b"")
            os.unlink(probe)
        except OSError as exc:
            raise StoreError(f"{self.url}: cannot write to the results folder ({exc})") from exc
