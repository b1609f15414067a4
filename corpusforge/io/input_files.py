"""Which listed files a reader may open: inputs stay inside their folders, and no read can block.

A folder listing (datatrove's, fsspec's) includes symbolic links, FIFOs, sockets and devices. A link leading out of
the input folder (`passwd.txt -> /etc/passwd`, common in dataset archives) would make a foreign file a training
document; opening a FIFO blocks forever. Such files are not opened: each is a counted file-level quarantine
naming what it is (nothing of it is read). Links that stay inside the folder are read; `follow_symlinks: true`
reads links wherever they lead.
"""

from __future__ import annotations

import os
import stat

from corpusforge.io.input_records import MalformedFile

_SPECIAL = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISDIR, "a directory"),
)


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def check_local_input(
    path: str, root: str, follow_symlinks: bool = False, named: bool = False
) -> MalformedFile | None:
    """Why the local file `path` (listed under `root`) must not be opened, or None. `named`: the recipe names this
    very file, so a link to elsewhere is what the user asked for."""
    try:
        own = os.lstat(path)
    except OSError:
        return None  # gone or unreadable: opening it says why
    real = os.path.realpath(path)
    if not (follow_symlinks or named) and not _inside(real, os.path.realpath(root)):
        return MalformedFile(
            "outside_input",
            f"a symbolic link to {real}, outside the input folder {root}: not read (set `follow_symlinks: true` "
            "on the reader to read links that leave the folder)",
            {"size": own.st_size, "link_target": real},
            raw=b"",
        )
    try:
        target = os.stat(path)
    except OSError as e:
        return MalformedFile(
            "broken_symlink", f"a symbolic link to {real}, which cannot be opened ({e.strerror})", raw=b""
        )
    for test, what in _SPECIAL:
        if test(target.st_mode):
            return MalformedFile(
                "not_a_regular_file",
                f"{what}, not a regular file: not read (reading it could block or never end)",
                {"size": 0},
                raw=b"",
            )
    return None
