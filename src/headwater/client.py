"""Read lineage from a local store or a Headwater/Marquez server, through one interface.

The CLI uses :func:`connect` so every read command works both against the
embedded store (``--db``) and a running server (``--url``), with the same output.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from headwater.graph import column_lineage, lineage
from headwater.model.events import parse_time
from headwater.model.nodes import DatasetId, JobId, parse_node_id
from headwater.store import LineageStore, NotFound, open_store

Json = dict[str, Any]


class ClientError(Exception):
    """A server that cannot be reached or answered with an error."""


class Reader(Protocol):
    """What the CLI reads."""

    def lineage(
        self,
        node_id: str,
        depth: int,
        direction: str,
        as_of: str | None = None,
        lean: bool = False,
    ) -> Json: ...
    def column_lineage(
        self, node_id: str, depth: int, with_downstream: bool, as_of: str | None = None
    ) -> Json: ...
    def datasets(self, namespace: str | None) -> list[Json]: ...
    def jobs(self, namespace: str | None) -> list[Json]: ...
    def runs(self, job: JobId, limit: int) -> list[Json]: ...


def _when(text: str | None) -> datetime | None:
    """An ``--as-of`` time (ISO 8601; no zone means UTC)."""
    return None if text is None else parse_time(text, "--as-of", [])


class LocalReader:
    """Reads from the embedded store."""

    def __init__(self, store: LineageStore) -> None:
        self.store = store

    def lineage(
        self,
        node_id: str,
        depth: int,
        direction: str,
        as_of: str | None = None,
        lean: bool = False,
    ) -> Json:
        node = parse_node_id(node_id)
        return lineage(self.store, node, depth, direction, _when(as_of), lean)  # type: ignore[arg-type]

    def column_lineage(
        self, node_id: str, depth: int, with_downstream: bool, as_of: str | None = None
    ) -> Json:
        return column_lineage(
            self.store, parse_node_id(node_id), depth, with_downstream, _when(as_of)
        )

    def datasets(self, namespace: str | None) -> list[Json]:
        names = (
            [namespace] if namespace else [n["name"] for n in self.store.list_namespaces(10_000)[0]]
        )
        out: list[Json] = []
        for ns in names:
            out += self.store.list_datasets(ns, 10_000)[0]
        return out

    def jobs(self, namespace: str | None) -> list[Json]:
        return self.store.list_jobs(namespace, 10_000)[0]

    def runs(self, job: JobId, limit: int) -> list[Json]:
        return self.store.list_runs(job, limit)[0]


class HttpReader:
    """Reads from a Headwater (or Marquez) server over its Marquez-compatible API."""

    def __init__(self, url: str, api_key: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60)

    def _get(self, path: str, **params: Any) -> Json:
        try:
            response = self.http.get(
                path, params={k: v for k, v in params.items() if v is not None}
            )
        except httpx.HTTPError as exc:
            msg = f"cannot reach {self.http.base_url}: {exc}"
            raise ClientError(msg) from None
        if response.status_code == 404:
            raise NotFound(response.json().get("message", "not found"))
        if response.status_code >= 400:
            try:
                detail = response.json().get("message", response.text)
            except ValueError:
                detail = response.text
            msg = f"{response.status_code} from {self.http.base_url}{path}: {detail}"
            raise ClientError(msg)
        body: Json = response.json()
        return body

    def lineage(
        self,
        node_id: str,
        depth: int,
        direction: str,
        as_of: str | None = None,
        lean: bool = False,
    ) -> Json:
        return self._get(
            "/api/v1/lineage",
            nodeId=node_id,
            depth=depth,
            direction=direction,
            asOf=as_of,
            lean=str(lean).lower(),
        )

    def column_lineage(
        self, node_id: str, depth: int, with_downstream: bool, as_of: str | None = None
    ) -> Json:
        return self._get(
            "/api/v1/column-lineage",
            nodeId=node_id,
            depth=depth,
            withDownstream=str(with_downstream).lower(),
            asOf=as_of,
        )

    def datasets(self, namespace: str | None) -> list[Json]:
        names = (
            [namespace]
            if namespace
            else [n["name"] for n in self._get("/api/v1/namespaces", limit=10_000)["namespaces"]]
        )
        out: list[Json] = []
        for ns in names:
            out += self._get(f"/api/v1/namespaces/{quote(ns, safe='')}/datasets", limit=10_000)[
                "datasets"
            ]
        return out

    def jobs(self, namespace: str | None) -> list[Json]:
        if namespace:
            return list(
                self._get(f"/api/v1/namespaces/{quote(namespace, safe='')}/jobs", limit=10_000)[
                    "jobs"
                ]
            )
        return list(self._get("/api/v1/jobs", limit=10_000)["jobs"])

    def runs(self, job: JobId, limit: int) -> list[Json]:
        path = f"/api/v1/namespaces/{quote(job.namespace, safe='')}/jobs/{quote(job.name, safe='')}/runs"
        return list(self._get(path, limit=limit)["runs"])


def connect(url: str | None = None, db: str | None = None, api_key: str | None = None) -> Reader:
    """A reader over a server (``url``) or the local store (``db``, default see :func:`headwater.store.resolve_url`)."""
    if url:
        return HttpReader(url, api_key)
    return LocalReader(open_store(db))


__all__ = ["ClientError", "DatasetId", "HttpReader", "LocalReader", "Reader", "connect"]
