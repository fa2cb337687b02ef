"""liftwatch: send metrics, rate-limit decisions, connection events and spans from a Lambda
handler to the liftwatch extension (docs/PROTOCOL.md). No dependencies; never raises into
the handler."""

from ._client import AGGREGATE_FLUSH_BYTES, Aggregate, Client, Span
from ._protocol import DEFAULT_PORT, PORT_VAR, ProtocolError

__all__ = [
    "AGGREGATE_FLUSH_BYTES", "Aggregate", "Client", "DEFAULT_PORT", "PORT_VAR", "ProtocolError",
    "Span",
]
__version__ = "0.1.0"
