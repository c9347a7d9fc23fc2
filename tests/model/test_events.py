"""Event validation against the spec: official examples accepted, mutations rejected with their path."""

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from factories import run_event
from headwater.model.events import EventParseError, EventValidationError, parse_event


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
