"""Every file kinject writes goes through here: written atomically (a temporary file, then a rename),
with the permissions a normal file gets under the user's umask (0644 under umask 022), never the
0600 of a temporary file. Directories are published whole (staged, flushed, renamed)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it; set back at once
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode open() gives a new file under the current umask."""
    return 0o666 & ~_umask()


def make_public(path: Path) -> None:
    """Give what mkstemp / mkdtemp made (0600 / 0700) the mode a normal file or directory would have."""
    path = Path(path)
    os.chmod(path, (0o777 & ~_umask()) if path.is_dir() else file_mode())


def write_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, obj) -> None:
    write_atomic(path, json.dumps(obj, indent=2) + "\n")


def jsonl_text(rows) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def write_jsonl(path: Path, rows) -> None:
    write_atomic(path, jsonl_text(rows))


def publish_dir(staged: Path, target: Path) -> None:
    """Move a fully written directory into place: flushed to disk, the old one (if any) replaced.
    A kill before the rename leaves only the staged copy, which is never read."""
    for file in Path(staged).rglob("*"):
        if file.is_file():
            with open(file, "rb") as f:
                os.fsync(f.fileno())
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staged, target)
