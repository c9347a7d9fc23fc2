"""Parse and validate OpenLineage events (RunEvent, DatasetEvent, JobEvent).

The contract follows the OpenLineage spec 2-0-2 (and the 1-x events before it):
required fields, the ``eventType`` enum, ISO 8601 date-times, object-valued
facets. Like Marquez, a few producer habits are accepted with a warning instead
of a rejection: a date-time without a zone (read as UTC), sub-microsecond
precision (truncated), a ``runId`` that is not a UUID, a missing ``schemaURL``.

Errors carry the JSON path of the failing value (``$.run.runId``) so an HTTP
layer can answer 422 with a body that names it. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import orjson

from headwater.model import facets as facet_shapes
from headwater.model.nodes import JobId

EVENT_TYPES = frozenset({"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"})
EventKind = Literal["run", "dataset", "job"]

_FRACTION = re.compile(r"(\.\d{6})\d+")


class EventParseError(ValueError):
    """The payload is not JSON (HTTP 400)."""


class EventValidationError(ValueError):
    """The payload is JSON but not a valid OpenLineage event (HTTP 422).

    Attributes:
        path: JSON path of the failing value, e.g. ``$.run.runId``.
        reason: what is wrong with it.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class Decoded(NamedTuple):
    """An event payload already decoded: its JSON bytes and the objects they decode to (a batch
    item from :func:`decode_batch`, which need not be decoded again)."""

    raw: bytes
    data: Any


@dataclass(frozen=True, slots=True)
class EventHeader:
    """What the event log keeps of a valid event: its bytes and the fields the store indexes.

    Appending needs nothing more, so the store validates payloads into headers
    (:func:`parse_header`) and lets each event's decoded JSON go as soon as it is checked, while
    it is still in the CPU's caches; a batch of 500 decoded events held until the batch commits
    took a sixth of the batch's time to free.

    Attributes:
        kind: ``run``, ``dataset`` or ``job`` (RunEvent, DatasetEvent, JobEvent).
        raw: the bytes exactly as received (what ``export`` gives back).
        event_time: ``eventTime`` as an aware UTC datetime.
        event_type: ``eventType`` (RunEvents only; may be None).
        run_id: ``run.runId`` for RunEvents.
        job: the job, for RunEvents and JobEvents.
        content_hash: SHA-256 of the canonical JSON (key order and whitespace
            do not matter), the idempotency key.
        producer: ``producer``.
        warnings: lenient acceptances, in words.
    """

    kind: EventKind
    raw: bytes
    event_time: datetime
    event_type: str | None
    run_id: str | None
    job: JobId | None
    content_hash: str
    producer: str
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ValidatedEvent(EventHeader):
    """An event that passed validation: its :class:`EventHeader` and its decoded JSON.

    Attributes:
        data: the decoded JSON object.
    """

    data: dict[str, Any] = field(kw_only=True)

    @property
    def inputs(self) -> list[dict[str, Any]]:
        """The event's input datasets (empty for DatasetEvents)."""
        return list(self.data.get("inputs") or [])

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """The event's output datasets; a DatasetEvent's dataset counts as one."""
        if self.kind == "dataset":
            return [self.data["dataset"]]
        return list(self.data.get("outputs") or [])


_DIGITS = frozenset(b"0123456789")
_NUMBER_BYTES = frozenset(b"0123456789.-")
_BEFORE_VALUE = frozenset(b":,[")  # what precedes a value in compact JSON (or nothing)
_AFTER_VALUE = frozenset(b",]}")  # what follows one


def _small_float(text: bytes) -> bool:
    """Whether orjson's compact ``text`` may hold a float it writes unlike the standard library:
    a number token holding ``0.0000`` or ending in a one-digit negative exponent.

    It finds the candidates and keeps those that are values
    (:func:`_in_value`), so such bytes inside a string (a time's ``00:00.000000Z``) pass unless
    they look like a value there too, which only costs the slow path.
    """
    i = text.find(b"0.0000")
    while i != -1:
        if _in_value(text, i, i + 6):
            return True
        i = text.find(b"0.0000", i + 1)
    for found in _NEGATIVE_EXPONENT.finditer(text):
        i = found.start()
        if _one_digit_exponent(text, i) and _in_value(text, i, i + 2):
            return True
    return False


# Two-byte needles are found by ``re`` (which looks for the first byte with memchr) in a third of
# the time ``bytes.find`` takes.
_NEGATIVE_EXPONENT = re.compile(rb"e-")
_ESCAPE = re.compile(rb"\\u")


def _one_digit_exponent(text: bytes, i: int) -> bool:
    """Whether the ``e-`` at ``i`` follows a digit and precedes exactly one digit."""
    tail = text[i + 2 : i + 4]
    return (
        i > 0
        and text[i - 1] in _DIGITS
        and len(tail) >= 1
        and tail[0] in _DIGITS
        and (len(tail) == 1 or tail[1] not in _DIGITS)
    )


def _in_value(text: bytes, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` lies in a number that is a value of compact JSON: a number
    follows ``:``, ``,`` or ``[`` and precedes ``,``, ``]`` or ``}`` (or starts or ends the
    text)."""
    while start > 0 and text[start - 1] in _NUMBER_BYTES:
        start -= 1
    while end < len(text) and text[end] in _NUMBER_BYTES:
        end += 1
    before = start == 0 or text[start - 1] in _BEFORE_VALUE
    return before and (end == len(text) or text[end] in _AFTER_VALUE)


def canonical_json(data: Any, *, finite: bool = False) -> bytes:
    """``data`` serialized canonically: ``json.dumps(sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)`` in UTF-8, the form content hashes have always been computed on.

    orjson writes the same bytes several times faster, except for floats below 1e-4, which it
    writes positionally or with a one-digit exponent (``0.00001`` and ``1e-7`` where the standard
    library writes ``1e-05`` and ``1e-07``), and for what it cannot write: NaN and infinities
    (which it turns into ``null``), integers beyond 64 bits and lone surrogates (on which it
    fails). So orjson writes ``data`` only when the caller knows it holds no NaN or infinity
    (``finite``: orjson parsed it, as its parser refuses them, or the standard library's JSON
    of it shows no ``NaN`` nor ``Infinity``), orjson does not fail, and its output shows no small
    float (no number token holding ``0.0000`` or ending ``<digit>e-<one digit>``:
    :func:`_small_float`; a string that looks so only costs the slow path); anything else goes
    through the standard library. Equality is tested on generated JSON.
    """
    if finite:
        try:
            text = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            pass
        else:
            if not _small_float(text):
                return text
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_hash(data: Any, *, finite: bool = False) -> str:
    """SHA-256 hex digest of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(data, finite=finite)).hexdigest()


def loads(raw: bytes) -> tuple[Any, bool]:
    """Parse JSON bytes: orjson (several times faster), else the standard library, which accepts
    what orjson refuses (``NaN``, infinities) and words the error for malformed JSON.

    orjson reads integers beyond 64 bits as floats (so they are hashed and projected as floats;
    the stored bytes keep them exact).

    Returns:
        The objects, and whether orjson parsed them (then they hold no NaN or infinity: see
        :func:`canonical_json`).

    Raises:
        UnicodeDecodeError: not UTF-8.
        json.JSONDecodeError: not JSON.
    """
    try:
        return orjson.loads(raw), True
    except orjson.JSONDecodeError:
        return json.loads(raw), False


def parse_time(value: Any, path: str, warnings: list[str]) -> datetime:
    """Parse an OpenLineage date-time leniently (see module docstring).

    Any ISO 8601 offset counts as a zone (``Z``, ``+05``, ``+0530``, ``-08:00``); a time without
    one is read as UTC, with a warning, and so are digits beyond microseconds (truncated).
    """
    if not isinstance(value, str) or not value:
        raise EventValidationError(path, "must be an ISO 8601 date-time string")
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text)  # it truncates digits beyond microseconds itself
    except ValueError:
        try:  # some very long fractions only parse cut to microseconds
            parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", text))
        except ValueError:
            raise EventValidationError(path, f"{value!r} is not an ISO 8601 date-time") from None
    if "." in text and _FRACTION.search(text):
        warnings.append(f"{path}: precision beyond microseconds truncated")
    if parsed.tzinfo is None:
        warnings.append(f"{path}: no time zone; read as UTC")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _require_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if value is None:
        raise EventValidationError(f"{path}.{key}", "is required")
    if not isinstance(value, str) or not value:
        raise EventValidationError(f"{path}.{key}", "must be a non-empty string")
    return value


def _require_object(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EventValidationError(path, "must be an object")
    return value


def _check_facets(
    holder: Mapping[str, Any], key: str, path: str, known: Mapping[str, facet_shapes.Check]
) -> None:
    facets = holder.get(key)
    if facets is None:
        return
    facets = _require_object(facets, f"{path}.{key}")
    for name, facet in facets.items():
        if not isinstance(facet, dict):
            raise EventValidationError(f"{path}.{key}.{name}", "a facet must be an object")
        check = known.get(name)  # a standard facet Headwater reads: of the shape it reads
        if check is not None and not check.ok(facet):
            try:
                check.explain(facet, f"{path}.{key}.{name}")
            except facet_shapes.FacetShapeError as exc:
                raise EventValidationError(exc.path, exc.reason) from None


def _check_dataset(obj: Any, path: str, facet_keys: tuple[str, ...]) -> None:
    dataset = _require_object(obj, path)
    _require_str(dataset, "namespace", path)
    _require_str(dataset, "name", path)
    for key in ("facets", *facet_keys):
        _check_facets(dataset, key, path, facet_shapes.DATASET_FACETS)


def _check_job(obj: Any, path: str) -> JobId:
    job = _require_object(obj, path)
    job_id = JobId(_require_str(job, "namespace", path), _require_str(job, "name", path))
    _check_facets(job, "facets", path, facet_shapes.JOB_FACETS)
    return job_id


def _check_datasets(data: Mapping[str, Any], key: str, facet_key: str) -> None:
    value = data.get(key)
    if value is None:
        return
    if not isinstance(value, list):
        raise EventValidationError(f"$.{key}", "must be an array")
    for i, item in enumerate(value):
        _check_dataset(item, f"$.{key}[{i}]", (facet_key,))


def decode(payload: bytes | str | Mapping[str, Any] | Decoded) -> tuple[bytes, Any]:
    """Return ``(raw bytes, decoded JSON)`` for a payload given in any form.

    Raises:
        EventParseError: the bytes are not UTF-8 JSON.
    """
    raw, data, _ = _decode(payload)
    return raw, data


def _decode(payload: bytes | str | Mapping[str, Any] | Decoded) -> tuple[bytes, Any, bool]:
    """:func:`decode`, and whether orjson decoded the objects (see :func:`canonical_json`).

    Raises:
        EventParseError: the bytes are not UTF-8 JSON.
    """
    if isinstance(payload, Decoded):
        return payload.raw, payload.data, True
    if isinstance(payload, Mapping):
        data = dict(payload)
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        finite = "NaN" not in text and "Infinity" not in text  # how json writes them
        try:
            return text.encode("utf-8"), data, finite
        except UnicodeEncodeError:  # a lone surrogate: keep it escaped, validation names it
            return json.dumps(data, separators=(",", ":")).encode("ascii"), data, finite
    raw = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
    try:
        data, finite = loads(raw)
    except UnicodeDecodeError as exc:
        msg = f"body is not UTF-8 at byte {exc.start}"
        raise EventParseError(msg) from None
    except json.JSONDecodeError as exc:
        msg = f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        raise EventParseError(msg) from None
    return raw, data, finite


def decode_batch(body: bytes) -> list[Any]:
    """Split a JSON array of events into one payload per item, for ``ingest_many``.

    Items come back :class:`Decoded` (compact JSON bytes, re-encoded by orjson, beside the
    objects) when the array parsed with orjson (which then guarantees a faithful round trip);
    else as decoded objects. An item that is not an object is returned as it is (validation
    names it).

    Raises:
        EventParseError: the body is not UTF-8 JSON.
        EventValidationError: the body is not a JSON array.
    """
    try:
        items = orjson.loads(body)
        faithful = True
    except orjson.JSONDecodeError:
        _, items = decode(body)
        faithful = False
    if not isinstance(items, list):
        raise EventValidationError("$", "a batch must be a JSON array of events")
    if not faithful:
        return items
    return [Decoded(orjson.dumps(item), item) if isinstance(item, dict) else item for item in items]


def _string_path(value: Any, path: str, bad: Callable[[str], bool]) -> str | None:
    """The JSON path of the first string (or key) for which ``bad`` holds, if any."""
    if isinstance(value, str):
        return path if bad(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            if bad(key):
                return path
            found = _string_path(item, f"{path}.{key}", bad)
            if found is not None:
                return found
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found = _string_path(item, f"{path}[{i}]", bad)
            if found is not None:
                return found
    return None


def _lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


_CANONICAL_UUID = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def _is_uuid(text: str) -> bool:
    """Whether ``text`` is a UUID in any form :class:`uuid.UUID` reads (the canonical one
    matched first: several times faster)."""
    if _CANONICAL_UUID.fullmatch(text):
        return True
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _check_escapes(raw: bytes, obj: dict[str, Any]) -> None:
    """Refuse a string holding NUL or an unpaired surrogate, which ``raw`` escapes.

    Raises:
        EventValidationError: naming the first such string.
    """
    if b"\\u0000" in raw:
        nul = _string_path(obj, "$", lambda text: "\x00" in text)
        if nul is not None:
            raise EventValidationError(
                nul, "contains a NUL character (U+0000); it cannot be stored"
            )
    if _SURROGATE_ESCAPE.search(raw):
        lone = _string_path(obj, "$", _lone_surrogate)
        if lone is not None:
            raise EventValidationError(
                lone, "contains an unpaired UTF-16 surrogate escape (\\uD800-\\uDFFF)"
            )


def validate(raw: bytes, data: Any) -> ValidatedEvent:
    """Validate decoded JSON as an OpenLineage event.

    Args:
        raw: the payload bytes as received.
        data: the decoded JSON.

    Returns:
        The validated event with its indexed fields.

    Raises:
        EventValidationError: naming the JSON path that fails.
    """
    return ValidatedEvent(*_header_fields(raw, data, finite=False), data=data)


def _header_fields(raw: bytes, data: Any, *, finite: bool) -> tuple[Any, ...]:
    """Validate ``data``; the :class:`EventHeader` fields, in order (``finite``: see
    :func:`canonical_json`)."""
    obj = _require_object(data, "$")
    if _ESCAPE.search(raw):  # NUL and surrogates can only arrive escaped: one scan finds both
        _check_escapes(raw, obj)
    warnings: list[str] = []
    event_time = parse_time(obj.get("eventTime"), "$.eventTime", warnings)
    producer = _require_str(obj, "producer", "$")
    if "schemaURL" not in obj:
        warnings.append("$.schemaURL: missing; read as an OpenLineage 2-0-2 event")
    elif not isinstance(obj["schemaURL"], str):
        raise EventValidationError("$.schemaURL", "must be a string")

    kind: EventKind
    run_id: str | None = None
    job: JobId | None = None
    event_type: str | None = None
    if "run" in obj:
        kind = "run"
        run = _require_object(obj["run"], "$.run")
        run_id = _require_str(run, "runId", "$.run")
        if not _is_uuid(run_id):
            warnings.append(f"$.run.runId: {run_id!r} is not a UUID; stored as given")
        _check_facets(run, "facets", "$.run", facet_shapes.RUN_FACETS)
        if "job" not in obj:
            raise EventValidationError("$.job", "is required in a RunEvent")
        job = _check_job(obj["job"], "$.job")
        if obj.get("eventType") is not None:
            event_type = obj["eventType"]
            if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
                reason = f"{event_type!r} is not one of {', '.join(sorted(EVENT_TYPES))}"
                raise EventValidationError("$.eventType", reason)
        _check_datasets(obj, "inputs", "inputFacets")
        _check_datasets(obj, "outputs", "outputFacets")
    elif "dataset" in obj:
        kind = "dataset"
        _check_dataset(obj["dataset"], "$.dataset", ())
    elif "job" in obj:
        kind = "job"
        job = _check_job(obj["job"], "$.job")
        _check_datasets(obj, "inputs", "inputFacets")
        _check_datasets(obj, "outputs", "outputFacets")
    else:
        raise EventValidationError(
            "$", "must have 'run' (RunEvent), 'dataset' (DatasetEvent) or 'job' (JobEvent)"
        )
    content_hash = canonical_hash(obj, finite=finite)
    return kind, raw, event_time, event_type, run_id, job, content_hash, producer, tuple(warnings)


def parse_event(payload: bytes | str | Mapping[str, Any] | Decoded) -> ValidatedEvent:
    """Decode and validate one OpenLineage event.

    Args:
        payload: JSON bytes or text, an already decoded mapping, or :class:`Decoded` bytes and
            objects.

    Returns:
        The :class:`ValidatedEvent`.

    Raises:
        EventParseError: not JSON.
        EventValidationError: not a valid event; ``path`` names the failing value.
    """
    raw, data, finite = _decode(payload)
    return ValidatedEvent(*_header_fields(raw, data, finite=finite), data=data)


def parse_header(payload: bytes | str | Mapping[str, Any] | Decoded) -> EventHeader:
    """:func:`parse_event`, keeping only the :class:`EventHeader`: what appending needs.

    Raises:
        EventParseError: not JSON.
        EventValidationError: not a valid event; ``path`` names the failing value.
    """
    raw, data, finite = _decode(payload)
    return EventHeader(*_header_fields(raw, data, finite=finite))
