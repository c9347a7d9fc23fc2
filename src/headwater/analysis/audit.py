"""The audit trail: who ran what, when, where, why, on which data — from the stored events.

Pure over the store's read interface: RunEvents in a time window are grouped per run; *who*,
*where* and *why* come from the ``headwater_audit`` run facet (actor, host, environment, purpose)
or, for other producers, from what they send (``processing_engine``, the producer URI, the job's
``documentation``); *what* is the job and its SQL; *which data* the run's inputs and outputs with
the versions read and written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from headwater.store.base import LineageStore

TERMINAL = {"COMPLETE", "FAIL", "ABORT"}


@dataclass
class AuditEntry:
    """One run, as an auditor reads it."""

    run_id: str
    job: str
    state: str
    started: str | None
    ended: str | None
    actor: str | None
    host: str | None
    environment: str | None
    purpose: str | None
    engine: str | None
    producer: str | None
    sql: str | None
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return asdict(self)


def _name(ds: dict[str, Any]) -> str:
    version = ((ds.get("facets") or {}).get("version") or {}).get("datasetVersion")
    text = f"{ds['namespace']}:{ds['name']}"
    return f"{text}@{version}" if version else text


def _matches(names: Iterable[str], dataset: str) -> bool:
    for n in names:
        bare = n.split("@", 1)[0]
        if bare == dataset or bare.endswith(("/" + dataset, "." + dataset, ":" + dataset)):
            return True
    return False


def audit_trail(
    store: LineageStore,
    dataset: str | None = None,
    job: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100_000,
) -> list[AuditEntry]:
    """Runs in ``[since, until]``, optionally touching ``dataset``, of ``job``, by ``actor``; oldest first."""
    events, _ = store.list_events(before=until, after=since, limit=limit, descending=False)
    runs: dict[str, AuditEntry] = {}
    for event in events:
        if "run" not in event:
            continue
        run_id = event["run"]["runId"]
        facets = event["run"].get("facets") or {}
        job_facets = event["job"].get("facets") or {}
        entry = runs.get(run_id)
        if entry is None:
            entry = runs[run_id] = AuditEntry(
                run_id,
                f"{event['job']['namespace']}:{event['job']['name']}",
                "NEW",
                None,
                None,
                None,
                None,
                None,
                None,
                None,
                event.get("producer"),
                None,
            )
        audit = facets.get("headwater_audit") or {}
        entry.actor = audit.get("actor") or entry.actor
        entry.host = audit.get("host") or entry.host
        entry.environment = audit.get("environment") or entry.environment
        entry.purpose = (
            audit.get("purpose")
            or (job_facets.get("documentation") or {}).get("description")
            or entry.purpose
        )
        engine = facets.get("processing_engine") or {}
        if engine:
            entry.engine = f"{engine.get('name')} {engine.get('version')}".strip()
        entry.sql = (job_facets.get("sql") or {}).get("query") or entry.sql
        event_type = event.get("eventType") or "OTHER"
        if event_type == "START" and entry.started is None:
            entry.started = event["eventTime"]
        if event_type in TERMINAL:
            entry.ended = event["eventTime"]
            entry.state = event_type
        elif entry.state not in TERMINAL:
            entry.state = event_type
        entry.inputs = sorted({*entry.inputs, *(_name(d) for d in event.get("inputs") or [])})
        entry.outputs = sorted({*entry.outputs, *(_name(d) for d in event.get("outputs") or [])})
    result = list(runs.values())
    if dataset:
        result = [e for e in result if _matches(e.inputs + e.outputs, dataset)]
    if job:
        result = [e for e in result if e.job == job or e.job.endswith(":" + job)]
    if actor:
        result = [e for e in result if e.actor == actor]
    return result
