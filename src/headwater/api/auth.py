"""Optional API keys.

Keys come from ``HEADWATER_API_KEYS`` (comma-separated ``key`` or ``key:rw`` /
``key:ro``; a bare key is read-write) or a file named by
``HEADWATER_API_KEYS_FILE`` (one such entry per line, ``#`` comments). With no
keys configured the API is open. With keys, every ``/api`` request needs
``Authorization: Bearer <key>`` (the OpenLineage client's ``api_key`` auth);
writes need a read-write key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Access = Literal["ro", "rw"]


class AuthConfigError(ValueError):
    """An API key entry that is not ``key``, ``key:rw`` or ``key:ro``."""


@dataclass(frozen=True)
class ApiKeys:
    """The configured keys and their access."""

    keys: Mapping[str, Access]

    @property
    def enabled(self) -> bool:
        """Whether any key is configured (otherwise the API is open)."""
        return bool(self.keys)

    def check(self, authorization: str | None, write: bool) -> tuple[int, str] | None:
        """None when allowed; else ``(status, reason)`` for a 401 or 403 answer."""
        if not self.enabled:
            return None
        if not authorization:
            return 401, "missing Authorization header; send 'Authorization: Bearer <api key>'"
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return 401, "Authorization must be 'Bearer <api key>'"
        access = self.keys.get(token.strip())
        if access is None:
            return 401, "unknown API key"
        if write and access != "rw":
            return 403, "this API key is read-only; writing needs a read-write key"
        return None


def parse_keys(entries: list[str]) -> dict[str, Access]:
    """Parse ``key[:rw|:ro]`` entries."""
    keys: dict[str, Access] = {}
    for entry in (e.strip() for e in entries):
        if not entry or entry.startswith("#"):
            continue
        key, _, access = (
            entry.rpartition(":") if entry.endswith((":rw", ":ro")) else (entry, "", "rw")
        )
        if not key:
            msg = f"API key entry {entry!r} has an empty key"
            raise AuthConfigError(msg)
        keys[key] = "ro" if access == "ro" else "rw"
    return keys


def load_keys(env: Mapping[str, str] | None = None) -> ApiKeys:
    """Keys from ``HEADWATER_API_KEYS`` and ``HEADWATER_API_KEYS_FILE``."""
    env = os.environ if env is None else env
    entries = (env.get("HEADWATER_API_KEYS") or "").split(",")
    if env.get("HEADWATER_API_KEYS_FILE"):
        entries += Path(env["HEADWATER_API_KEYS_FILE"]).read_text().splitlines()
    return ApiKeys(parse_keys(entries))
