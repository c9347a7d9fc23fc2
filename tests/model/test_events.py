"""Event validation against the spec: official examples accepted, mutations rejected with their path."""

import copy
import json
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factories import run_event
from headwater.model.events import (
    EventParseError,
    EventValidationError,
    canonical_json,
    loads,
    parse_event,
)


def test_valid_run_event_fields():
    event = run_event("START", job="j", run_id="3f5e83fa-3480-44ff-99c5-ff943904e5e8")
    parsed = parse_event(json.dumps(event))
    assert parsed.kind == "run"
    assert parsed.event_type == "START"
    assert parsed.run_id == "3f5e83fa-3480-44ff-99c5-ff943904e5e8"
    assert parsed.warnings == ()


def test_hash_ignores_key_order_and_whitespace():
    event = run_event()
    a = parse_event(json.dumps(event))
    b = parse_event(json.dumps(dict(reversed(list(event.items()))), indent=2))
    assert a.content_hash == b.content_hash


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda e: e.pop("eventTime"), "$.eventTime"),
        (lambda e: e.update(eventTime="yesterday"), "$.eventTime"),
        (lambda e: e.update(eventType="DONE"), "$.eventType"),
        (lambda e: e.pop("producer"), "$.producer"),
        (lambda e: e["run"].pop("runId"), "$.run.runId"),
        (lambda e: e.update(run=[]), "$.run"),
        (lambda e: e["job"].update(name=""), "$.job.name"),
        (lambda e: e.pop("job"), "$.job"),
        (lambda e: e.update(inputs={}), "$.inputs"),
        (lambda e: e.update(outputs=[{"namespace": "n"}]), "$.outputs[0].name"),
        (lambda e: e["run"].update(facets={"x": 1}), "$.run.facets.x"),
    ],
)
def test_invalid_events_name_the_path(mutate, path):
    event = run_event()
    mutate(event)
    with pytest.raises(EventValidationError) as info:
        parse_event(event)
    assert info.value.path == path


def test_malformed_json():
    with pytest.raises(EventParseError, match="line 1 column 2"):
        parse_event(b"{nope")
    with pytest.raises(EventParseError):
        parse_event(b"\xff\xfe")


def test_lenient_like_marquez():
    event = run_event(run_id="not-a-uuid")
    event["eventTime"] = "2024-01-01T10:00:00.123456789"
    parsed = parse_event(event)
    assert parsed.event_time.microsecond == 123456
    assert any("no time zone" in w for w in parsed.warnings)
    assert any("beyond microseconds" in w for w in parsed.warnings)
    assert any("not a UUID" in w for w in parsed.warnings)


@pytest.mark.parametrize(
    ("sent", "utc"),
    [
        ("2025-01-17T00:01:02Z", "2025-01-17T00:01:02+00:00"),
        ("2025-01-17T00:01:02+05", "2025-01-16T19:01:02+00:00"),  # an hours-only offset
        ("2025-01-17T00:01:02+0530", "2025-01-16T18:31:02+00:00"),
        ("2025-01-17T00:01:02.5-08:00", "2025-01-17T08:01:02.500000+00:00"),
    ],
)
def test_every_iso_offset_is_a_zone(sent, utc):
    event = run_event()
    event["eventTime"] = sent
    parsed = parse_event(event)
    assert parsed.event_time.isoformat() == utc
    assert not any("time zone" in w for w in parsed.warnings)


def test_dataset_and_job_events():
    ds_event = {
        "eventTime": "2024-01-01T00:00:00Z",
        "producer": "p",
        "schemaURL": "s",
        "dataset": {"namespace": "n", "name": "t"},
    }
    assert parse_event(ds_event).kind == "dataset"
    job_event = {
        "eventTime": "2024-01-01T00:00:00Z",
        "producer": "p",
        "schemaURL": "s",
        "job": {"namespace": "n", "name": "j"},
    }
    assert parse_event(job_event).kind == "job"
    with pytest.raises(EventValidationError, match="must have 'run'"):
        parse_event({"eventTime": "2024-01-01T00:00:00Z", "producer": "p", "schemaURL": "s"})


def _place_facet(kind: str, facet: dict) -> dict:
    event = run_event(
        inputs=[{"namespace": "n", "name": "in"}], outputs=[{"namespace": "n", "name": "out"}]
    )
    if kind.endswith("InputDatasetFacet"):
        event["inputs"][0]["inputFacets"] = facet
    elif kind.endswith("OutputDatasetFacet"):
        event["outputs"][0]["outputFacets"] = facet
    elif kind.endswith("DatasetFacet"):
        event["outputs"][0]["facets"] = facet
    elif kind.endswith("JobFacet"):
        event["job"]["facets"] = facet
    else:
        event["run"]["facets"] = facet
    return event


def test_spec_examples_accepted_and_agree_with_official_schema(shared_dir: Path):
    spec = json.loads((shared_dir / "openlineage-spec" / "OpenLineage.json").read_text())
    validator = jsonschema.Draft202012Validator({**spec, "$ref": "#/$defs/RunEvent"})
    examples = sorted((shared_dir / "openlineage-spec" / "tests").glob("*/*.json"))
    assert len(examples) > 30
    for path in examples:
        event = _place_facet(path.parent.name, json.loads(path.read_text()))
        validator.validate(event)  # the official schema accepts it ...
        assert parse_event(event).kind == "run"  # ... and so do we
        broken = copy.deepcopy(event)
        broken["run"]["runId"] = None
        assert not validator.is_valid(broken)
        with pytest.raises(EventValidationError):
            parse_event(broken)


def test_real_integration_events_accepted(shared_dir: Path):
    files = sorted((shared_dir / "openlineage-events").glob("*/events/*.json"))
    assert len(files) >= 70
    for path in files:
        parse_event(path.read_bytes())


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_json_values)
def test_canonical_json_is_the_standard_librarys_bytes(value):
    """The fast canonical form equals json.dumps(sort_keys, compact), the hashes' definition."""
    data = {"v": value}
    raw = json.dumps(data).encode()
    expected = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    decoded, finite = loads(raw)
    assert canonical_json(decoded, finite=finite) == expected.encode()
    if "\\u0000" not in raw.decode():  # NUL is refused
        given = event_with(value)  # objects hash as their bytes do
        assert parse_event(given).content_hash == parse_event(json.dumps(given)).content_hash


def event_with(value):
    """A RunEvent carrying ``value`` in a custom run facet."""
    event = run_event(job="v")
    event["run"]["facets"] = {"custom": {"_producer": "p", "_schemaURL": "s", "v": value}}
    return event


def test_integers_beyond_64_bits_hash_as_orjson_reads_them():
    """orjson reads them as floats (the stored bytes keep them exact); ingest and audit hash them
    so alike, and an event with one is a duplicate of itself."""
    raw = json.dumps(event_with(2**70)).encode()
    decoded, finite = loads(raw)
    assert finite and isinstance(decoded["run"]["facets"]["custom"]["v"], float)
    assert parse_event(raw).content_hash == parse_event(raw).content_hash
    assert parse_event(raw).raw == raw


@pytest.mark.parametrize("literal", [b"1e999", b"-1e999", b"NaN", b"Infinity", b"null"])
def test_canonical_json_of_what_only_the_standard_library_parses(literal):
    """orjson refuses these (1e999 is an infinity); they hash as the standard library writes
    them, never as the null orjson would write for an infinity."""
    raw = b'{"v":' + literal + b"}"
    decoded, finite = loads(raw)
    expected = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))
    assert canonical_json(decoded, finite=finite) == expected.encode()
    assert finite == (literal == b"null")


@pytest.mark.parametrize(
    "value",
    [
        1e-5,
        9.9999e-5,
        1e-7,
        1.234e-9,
        1.5e-10,
        5e-324,
        1e16,
        1e-4,
        2**63 - 1,
        float("nan"),
        float("inf"),
        "v1e-7 0.00001",
        "2025-01-17T00:01:00.000000Z",
        "x:1e-7,",
        [1e-7, {"a": -0.00001}],
        "\x00\x1f\u2028",
    ],
)
def test_canonical_json_edge_values(value):
    data = {"v": value}
    raw = json.dumps(data).encode()
    expected = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    decoded, finite = loads(raw)
    assert canonical_json(decoded, finite=finite) == expected.encode("utf-8", "surrogatepass")


@pytest.mark.parametrize("as_text", [True, False])
def test_unpaired_surrogates_are_refused_by_path(as_text):
    """A lone \\uD800 cannot be stored as UTF-8: 422 naming the path, not a server error."""
    event = run_event(job="x")
    payload = json.dumps(event).replace('"x"', '"\\ud800"') if as_text else copy.deepcopy(event)
    if not as_text:
        payload["job"]["name"] = "\ud800"
    with pytest.raises(EventValidationError) as err:
        parse_event(payload)
    assert err.value.path == "$.job.name" and "surrogate" in str(err.value)
    paired = json.dumps(event).replace('"x"', '"\\ud83d\\ude00"')  # an emoji, escaped
    assert parse_event(paired).job.name == "\U0001f600"


@pytest.mark.parametrize(
    ("place", "value", "path"),
    [
        (("job", "facets", "sql"), {"query": 7}, "$.job.facets.sql.query"),
        (
            ("run", "facets", "parent"),
            {"run": {"runId": {"x": 1}}},
            "$.run.facets.parent.run.runId",
        ),
        (
            ("outputs", 0, "facets", "columnLineage"),
            {"fields": {"a": {"inputFields": [{"namespace": 1}]}}},
            "$.outputs[0].facets.columnLineage.fields.a.inputFields[0].namespace",
        ),
        (
            ("outputs", 0, "facets", "schema"),
            {"fields": [{"name": "a", "fields": [{"name": ["nested"]}]}]},
            "$.outputs[0].facets.schema.fields[0].fields[0].name",
        ),
        (
            ("outputs", 0, "facets", "version"),
            {"datasetVersion": True},
            "$.outputs[0].facets.version.datasetVersion",
        ),
    ],
)
def test_standard_facets_of_the_wrong_shape_are_refused_by_path(place, value, path):
    """Headwater reads these facets; a wrong type is a 422 at its path, not a projection failure."""
    event = run_event(outputs=[{"namespace": "w", "name": "t", "facets": {}}])
    target = event
    for key in place[:-1]:
        target = target.setdefault(key, {}) if isinstance(key, str) else target[key]
    target[place[-1]] = {"_producer": "p", "_schemaURL": "s", **value}
    with pytest.raises(EventValidationError) as err:
        parse_event(event)
    assert err.value.path == path


def test_unknown_facets_and_extra_keys_pass_as_they_are():
    facets = {"custom": {"_producer": "p", "_schemaURL": "s", "anything": [1, {"a": None}]}}
    event = run_event(outputs=[{"namespace": "w", "name": "t", "facets": facets}])
    event["job"]["facets"]["sql"] = {
        "_producer": "p",
        "_schemaURL": "s",
        "query": "x",
        "dialect": 3,
    }
    assert parse_event(event).outputs[0]["facets"] == facets
