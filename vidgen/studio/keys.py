"""API keys and per-key daily quotas, in SQLite under the data directory.

A key is shown once, when it is made (`vg-...`); only its SHA-256 is stored. Each key owns the
videos made with it. Usage is charged in seconds of video per UTC day when a job is accepted.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from vidgen.studio.db import LocalSQLite, transaction

DEFAULT_QUOTA_S = 600.0  # seconds of video per key per day

_SCHEMA = """
CREATE TABLE IF NOT EXISTS keys (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT UNIQUE NOT NULL, admin INTEGER NOT NULL,
  quota_s REAL NOT NULL, created_at REAL NOT NULL, revoked_at REAL
);
CREATE TABLE IF NOT EXISTS usage (key_id TEXT, day TEXT, seconds REAL, PRIMARY KEY (key_id, day));
"""


@dataclass(frozen=True)
class Key:
    id: str
    name: str
    admin: bool
    quota_s: float
    created_at: float
    revoked_at: float | None

    def public(self) -> dict:
        return {"object": "api_key", **self.__dict__}


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _day(now: float | None = None) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now or time.time()))


class KeyStore:
    def __init__(self, data: str | Path):
        self._db = LocalSQLite(Path(data) / "keys.db", _SCHEMA)

    @staticmethod
    def _key(row) -> Key | None:
        if row is None:
            return None
        return Key(
            row["id"], row["name"], bool(row["admin"]), row["quota_s"], row["created_at"],
            row["revoked_at"],
        )  # fmt: skip

    def create(
        self, name: str = "default", admin: bool = False, quota_s: float = DEFAULT_QUOTA_S
    ) -> tuple[Key, str]:
        """A new key and its secret (shown only now)."""
        if not name or len(name) > 100:
            raise ValueError("name must be 1 to 100 characters")
        if not 0 <= quota_s <= 1e7:
            raise ValueError(f"quota_s must be in [0, 10000000], got {quota_s}")
        secret = "vg-" + secrets.token_urlsafe(32)
        key_id = "key_" + secrets.token_hex(8)
        self._db().execute(
            "INSERT INTO keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
            (key_id, name, _hash(secret), int(admin), quota_s, time.time()),
        )
        return self.get(key_id), secret

    def get(self, key_id: str) -> Key | None:
        return self._key(
            self._db().execute("SELECT * FROM keys WHERE id = ?", (key_id,)).fetchone()
        )

    def authenticate(self, secret: str) -> Key | None:
        """The live key with this secret, or None."""
        row = (
            self._db()
            .execute("SELECT * FROM keys WHERE hash = ? AND revoked_at IS NULL", (_hash(secret),))
            .fetchone()
        )
        return self._key(row)

    def revoke(self, key_id: str) -> bool:
        cur = self._db().execute(
            "UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
            (time.time(), key_id),
        )
        return cur.rowcount == 1

    def list(self) -> list[Key]:
        return [self._key(r) for r in self._db().execute("SELECT * FROM keys ORDER BY created_at")]

    def charge(self, key: Key, seconds: float) -> float | None:
        """Add seconds to today's usage if the quota allows; None if it does not, else the total."""
        day = _day()
        with transaction(self._db()) as db:
            row = db.execute(
                "SELECT seconds FROM usage WHERE key_id = ? AND day = ?", (key.id, day)
            ).fetchone()
            used = row[0] if row else 0.0
            if used + seconds > key.quota_s + 1e-9:
                return None
            db.execute(
                "INSERT INTO usage VALUES (?, ?, ?) ON CONFLICT(key_id, day) "
                "DO UPDATE SET seconds = seconds + excluded.seconds",
                (key.id, day, seconds),
            )
        return used + seconds

    def used(self, key: Key) -> float:
        row = (
            self._db()
            .execute("SELECT seconds FROM usage WHERE key_id = ? AND day = ?", (key.id, _day()))
            .fetchone()
        )
        return row[0] if row else 0.0
