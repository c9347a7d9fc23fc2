"""Headwater: OpenLineage-native data lineage.

Capture lineage while SQL and Spark jobs run, store it (SQLite by default,
PostgreSQL when shared), and answer lineage questions through a
Marquez-compatible API, a CLI and a Python API.
"""

__version__ = "0.1.0"
PRODUCER = "https://github.com/headwater-lineage/headwater"
