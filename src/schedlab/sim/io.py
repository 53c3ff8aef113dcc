"""Writing files so that no reader ever sees half of one."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from schedlab.sim.errors import DataError, one_line_name

__all__ = ["write_atomic", "check_writable", "file_part", "plain_json", "MAX_FILE_PART"]

#: Longest piece of a file name made from a user's name (characters); file systems allow 255
#: bytes for a whole name, which holds three such pieces and a suffix.
MAX_FILE_PART = 80

#: Characters a name keeps in a file name: letters, digits and a few that no file system or
#: shell reads as a path or a special character. ``:`` becomes ``_`` too (Windows drives).
_KEEP = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .-+=,()[]@")


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that no reader ever sees a partial file.

    Raises:
        DataError: ``path`` names a folder, a folder above it is a file, or the system refuses
            to write there (permissions, a full disk); the message names the path.
    """
    path = Path(path)
    check_writable(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise DataError(f"cannot write here ({e.strerror or e})", source=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file the usual mode
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise DataError(f"cannot write here ({e.strerror or e})", source=str(path)) from None
        raise


def check_writable(path: Path, *, folder: bool = False) -> None:
    """Refuse an output path that can never be written, before any work goes into it.

    Args:
        path: The file (or, with ``folder``, the folder) to be written.
        folder: ``path`` is a folder to create or fill, not a file.

    Raises:
        DataError: A file where a folder is wanted or the reverse, anywhere along the path, a
            NUL character in it, or a folder the system does not let this process write in.
    """
    path = Path(path)
    if "\x00" in str(path):
        raise DataError("a NUL character in an output path", source=repr(str(path)))
    if folder:
        if path.exists() and not path.is_dir():
            raise DataError("is a file, expected a folder to write in", source=str(path))
    elif path.is_dir():
        raise DataError("is a folder, expected a file name", source=str(path))
    for parent in (path, *path.parents) if folder else path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise DataError(
                    f"cannot write here: {one_line_name(str(parent))} is a file, not a folder", source=str(path)
                )
            # Permissions alone do not tell (root passes them; /proc and read-only mounts refuse
            # anyway): create and remove an empty file where the output, or its folders, will go.
            try:
                fd, probe = tempfile.mkstemp(dir=parent, prefix=".schedlab-probe-", suffix=".tmp")
                os.close(fd)
                os.unlink(probe)
            except OSError as e:
                raise DataError(f"cannot write here ({e.strerror or e})", source=str(path)) from None
            break


def file_part(name: str) -> str:
    r"""A piece of a file name made from a user's name (a scenario's, a scheduler's, a label).

    The result names a file inside the folder it is joined to, and nowhere else: every
    character but letters, digits and `` .-+=,()[]@`` becomes ``_`` (so ``/``, ``\``, NUL and
    ``:`` cannot reach the path), runs of ``_`` shrink to one (``__`` separates the pieces of a
    trace's name), leading dots and spaces go (no ``..``, no hidden file), and a name longer than
    :data:`MAX_FILE_PART` is cut and ends in a digest of the whole, so two long names stay apart.
    Ordinary names (``spark-synthetic``, ``fair``, ``file.py:Class``) keep their old file names.
    """
    import hashlib
    import re

    text = "".join(c if c in _KEEP else "_" for c in str(name))
    text = re.sub("_{2,}", "_", text).lstrip(". ").rstrip(" ") or "_"
    if len(text) > MAX_FILE_PART:
        digest = hashlib.sha256(str(name).encode("utf-8", "surrogatepass")).hexdigest()[:12]
        text = f"{text[: MAX_FILE_PART - 13]}-{digest}"
    return text


def plain_json(obj: Any, *, indent: int | None = 2) -> str:
    """``obj`` as JSON that every parser reads: NaN and infinities (an undefined metric) become ``null``.

    Python's ``json`` writes them as bare ``NaN`` and ``Infinity``, which are not JSON; ``jq``,
    JavaScript and most other readers refuse the file.
    """
    return json.dumps(_finite(obj), indent=indent, allow_nan=False) + "\n"


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if hasattr(obj, "dtype") and hasattr(obj, "tolist"):  # NumPy scalars and arrays
        return _finite(obj.tolist())
    return obj
