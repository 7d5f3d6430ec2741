"""Each sandbox refuses a damaged state file when it opens it (SQLite's `quick_check`, about a second per GB of
store). One run opens the same store several times in one process (the CLI counting its writes, then each
resource): a file this process found intact, and that nothing has written since (the same file, size and
modification time), is not checked again. Commits in between land in the `-wal` file, whose frames SQLite checksums
itself."""

from __future__ import annotations

from pathlib import Path

_intact: set[tuple[str, int, int, int, int]] = set()


def _state(path: Path) -> tuple[str, int, int, int, int]:
    found = path.stat()
    return (str(path.resolve()), found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)


def known_intact(path: Path) -> bool:
    """Whether this process found `path` intact as it is now."""
    return _state(path) in _intact


def mark_intact(path: Path) -> None:
    """`path`, as it is now, passed its store's checks."""
    _intact.add(_state(path))
