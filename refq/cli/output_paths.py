"""Report files a command writes (``--json``, ``--junit``, ``--save-vector`` ...): checked before the run,
written whole or not at all, and never lost.

A long run must not end in a traceback because its report cannot be written, so every output
path is checked before anything runs (:func:`check_file`, :func:`check_folder`). The file is
written to a temporary name beside it and renamed into place, so a reader never sees half a
report. When the write still fails at the end (the disk filled, the folder vanished),
:func:`write_text` puts the report in a temporary file, says where on one line, and the
command exits 2.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from refq.errors import RefqValueError, invalid


class ReportNotWritten(RefqValueError):
    """A report the run produced could not be written where asked (it was saved elsewhere)."""


def _writable_folder(folder: Path) -> str:
    """Why ``folder`` cannot receive a new file ("" when it can)."""
    if not folder.exists():
        return f"its folder {folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"its folder {folder} is not writable"
    return ""


def check_file(path: str | os.PathLike | None, argument: str) -> None:
    """Raise a usage error naming ``argument`` unless a file can be written at ``path`` (None: no file asked for)."""
    if path is None:
        return
    text = str(path)
    if not text.strip():
        raise invalid(argument, "a file path", text)
    target = Path(text).expanduser()
    if target.is_dir():
        raise invalid(argument, "a file path, not a folder", text)
    if target.exists() and not os.access(target, os.W_OK):
        raise invalid(argument, "a writable file path (the file exists and is read-only)", text)
    reason = _writable_folder(target.absolute().parent)
    if reason:
        raise invalid(argument, f"a file path that can be written ({reason})", text)


def check_folder(path: str | os.PathLike | None, argument: str) -> None:
    """Raise a usage error naming ``argument`` unless ``path`` is, or can be made, a writable folder."""
    if path is None:
        return
    text = str(path)
    if not text.strip():
        raise invalid(argument, "a folder path", text)
    target = Path(text).expanduser().absolute()
    if target.exists():
        if not target.is_dir():
            raise invalid(argument, "a folder, not a file", text)
        if not os.access(target, os.W_OK | os.X_OK):
            raise invalid(argument, "a writable folder", text)
        return
    # The nearest existing ancestor must let the missing folders be made.
    ancestor = target.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    reason = _writable_folder(ancestor)
    if reason:
        raise invalid(argument, f"a folder that can be made ({reason})", text)


def _replace_atomically(target: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        # mkstemp's file is private (0600); the report gets the mode any new file would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def rescue(text: str, argument: str, path, error: BaseException) -> ReportNotWritten:
    """Save ``text`` in a temporary file and build the one-line error that says where."""
    suffix = Path(str(path)).suffix or ".txt"
    handle, saved = tempfile.mkstemp(prefix="refq-report-", suffix=suffix)
    with os.fdopen(handle, "w", encoding="utf-8") as stream:
        stream.write(text)
    reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
    return ReportNotWritten(f"{argument}: cannot write {path} ({reason}); the report is saved in {saved}")


def write_text(path, text: str, argument: str) -> None:
    """Write ``text`` to ``path`` whole; on failure raise :class:`ReportNotWritten` after saving it elsewhere."""
    try:
        _replace_atomically(Path(str(path)).expanduser(), text)
    except OSError as error:
        raise rescue(text, argument, path, error) from None


def write_all(writes: list[tuple[str, object, str]]) -> int:
    """Write every ``(argument, path, text)``; each failure is one ``refq: error:`` line (the others are
    still written). Returns 0 when all were written, 2 when one was not."""
    status = 0
    for argument, path, text in writes:
        try:
            write_text(path, text, argument)
        except ReportNotWritten as error:
            print(f"refq: error: {error}", file=sys.stderr)
            status = 2
    return status
