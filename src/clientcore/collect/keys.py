"""Write and read keys: one per source, shown once, stored only as a SHA-256 digest.

A write key lets a source send events (HTTP Basic user, or `writeKey` in the body, as the
Segment and RudderStack SDKs do); a read key lets a caller read profiles. Neither does the
other's job.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from clientcore.collect import AuthError, CollectError
from clientcore.store import Store

Scope = Literal["write", "read"]
SCOPES: tuple[str, ...] = ("write", "read")
_PREFIX = {"write": "ccw", "read": "ccr"}


@dataclass(frozen=True)
class KeyInfo:
    id: str
    name: str
    scope: str
    created_at: datetime | None
    revoked_at: datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "active": self.revoked_at is None,
        }


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(store: Store, name: str, scope: str) -> tuple[str, KeyInfo]:
    """Create a key; the secret is returned here and never again."""
    name = name.strip()
    if not name:
        raise CollectError("name must not be empty", field="name")
    if scope not in SCOPES:
        raise CollectError(f"scope must be one of {', '.join(SCOPES)}; got {scope!r}", "scope")
    key_id = secrets.token_hex(4)
    key = f"{_PREFIX[scope]}_{key_id}_{secrets.token_urlsafe(24)}"
    store.execute(
        "INSERT INTO write_keys (id, name, scope, key_hash) VALUES (?, ?, ?, ?)",
        [key_id, name, scope, digest(key)],
    )
    return key, get_key(store, key_id)


def get_key(store: Store, key_id: str) -> KeyInfo:
    rows = store.query(
        "SELECT id, name, scope, created_at, revoked_at FROM write_keys WHERE id = ?", [key_id]
    )
    if not rows:
        raise CollectError(f"no key with id {key_id!r}", field="id")
    return KeyInfo(*rows[0])


def list_keys(store: Store) -> list[KeyInfo]:
    rows = store.query(
        "SELECT id, name, scope, created_at, revoked_at FROM write_keys ORDER BY created_at, id"
    )
    return [KeyInfo(*row) for row in rows]


def revoke_key(store: Store, key_id: str) -> KeyInfo:
    info = get_key(store, key_id)
    if info.revoked_at is None:
        store.execute("UPDATE write_keys SET revoked_at = current_timestamp WHERE id = ?", [key_id])
    return get_key(store, key_id)


def find_key(store: Store, key: str) -> KeyInfo | None:
    """The key's record, revoked or not; None when no key has this value."""
    rows = store.query(
        "SELECT id, name, scope, created_at, revoked_at FROM write_keys WHERE key_hash = ?",
        [digest(key)],
    )
    return KeyInfo(*rows[0]) if rows else None


def authenticate(store: Store, key: str | None, scope: str) -> KeyInfo:
    """The active key of this scope, or AuthError saying what is wrong."""
    if not key:
        raise AuthError(f"a {scope} key is required (HTTP Basic user, or writeKey in the body)")
    info = find_key(store, key)
    if info is None:
        raise AuthError("unknown key")
    if info.revoked_at is not None:
        raise AuthError("this key has been revoked")
    if info.scope != scope:
        raise AuthError(f"this is a {info.scope} key; a {scope} key is required")
    return info
