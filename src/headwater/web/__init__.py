"""The web UI: a small single-page app served next to the API.

The UI knows the HTTP API only: its JavaScript calls ``/api/v1/...`` like any other
client. This package serves the page shell, the scripts and the vendored libraries
(cytoscape, dagre; copied from npm by ``make install``).
"""

from headwater.web.routes import install

__all__ = ["install"]
