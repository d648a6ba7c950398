"""SQLite for the studio's stores: one connection per thread, WAL, explicit transactions."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


class LocalSQLite:
    """`db()` is this thread's connection to `path` (autocommit; use `transaction` to write)."""

    def __init__(self, path: str | Path, schema: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self().executescript(schema)

    def __call__(self) -> sqlite3.Connection:
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.row_factory = sqlite3.Row
            self._local.db = db
        return db


class transaction:  # noqa: N801  (used as a `with` statement, like contextlib's helpers)
    """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK on error) on a connection in autocommit mode."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type, *_):
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")
