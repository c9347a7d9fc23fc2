"""Automatic lineage capture: engines and catalogs emit OpenLineage events through the official client.

Capture code never touches the store's tables: it emits events, which reach the
store through :class:`headwater.capture.transport.StoreTransport` (embedded) or
any OpenLineage backend over HTTP.
"""
