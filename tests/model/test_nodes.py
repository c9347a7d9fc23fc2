import pytest

from headwater.model.nodes import DatasetId, FieldId, InvalidNodeId, JobId, parse_node_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dataset:food:public.orders", DatasetId("food", "public.orders")),
        (
            "dataset:postgres://db:5432:public.orders",
            DatasetId("postgres://db:5432", "public.orders"),
        ),
        ("dataset:gs://bucket:path/to/file.csv", DatasetId("gs://bucket", "path/to/file.csv")),
        ("dataset:file:/tmp/t", DatasetId("file", "/tmp/t")),
        ("dataset:hdfs://namenode:/user/hive/t1", DatasetId("hdfs://namenode", "/user/hive/t1")),
        ("job:airflow:dag.task", JobId("airflow", "dag.task")),
        ("datasetField:file:/tmp/t:col", FieldId(DatasetId("file", "/tmp/t"), "col")),
        (
            "datasetField:postgres://h:5432:s.t:c",
            FieldId(DatasetId("postgres://h:5432", "s.t"), "c"),
        ),
    ],
)
def test_parse_round_trip(text, expected):
    assert parse_node_id(text) == expected
    assert expected.node_id() == text


@pytest.mark.parametrize(
    "text", ["", "dataset", "dataset:", "dataset:nsonly", "table:a:b", "datasetField:a:b", "job::x"]
)
def test_invalid(text):
    with pytest.raises(InvalidNodeId):
        parse_node_id(text)
