import json
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from headwater.capture.iceberg import open_catalog
from headwater.store import open_store


@pytest.fixture
def workspace(tmp_path):
    """A fresh Iceberg SQL catalog and lineage store under tmp_path."""
    store = open_store(f"sqlite:///{tmp_path / 'headwater.db'}")
    catalog = open_catalog(tmp_path / "catalog")
    yield catalog, store
    store.close()


@pytest.fixture(scope="session")
def openlineage_validator(shared_dir: Path):
    """Validate an event and each of its facets against the official JSON Schemas."""
    spec = shared_dir / "openlineage-spec"
    core = json.loads((spec / "OpenLineage.json").read_text())
    facet_files = {p.stem: json.loads(p.read_text()) for p in (spec / "facets").glob("*.json")}
    registry = Registry().with_resources(
        [(core["$id"], Resource.from_contents(core))]
        + [(f["$id"], Resource.from_contents(f)) for f in facet_files.values()]
    )
    by_key: dict[str, dict] = {}
    for schema in facet_files.values():
        for key in schema.get("properties", {}):
            by_key[key] = schema

    def validate(event: dict) -> None:
        kind = (
            "RunEvent" if "run" in event else "DatasetEvent" if "dataset" in event else "JobEvent"
        )
        jsonschema.Draft202012Validator(
            {"$ref": f"{core['$id']}#/$defs/{kind}"}, registry=registry
        ).validate(event)
        holders = [event.get("run", {}).get("facets", {}), event.get("job", {}).get("facets", {})]
        for ds in (
            event.get("inputs", [])
            + event.get("outputs", [])
            + ([event["dataset"]] if "dataset" in event else [])
        ):
            holders += [ds.get("facets", {}), ds.get("inputFacets", {}), ds.get("outputFacets", {})]
        for facets in holders:
            for key, value in facets.items():
                schema = by_key.get(key)
                if schema is not None:
                    jsonschema.Draft202012Validator(schema, registry=registry).validate(
                        {key: value}
                    )
                else:
                    assert key == "headwater_audit", f"unknown facet {key}"

    return validate
