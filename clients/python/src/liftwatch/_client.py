"""The client: one UDP datagram per call to the extension, or calls folded in-process by an
aggregate and sent in numbered 8 KiB datagrams when the handler returns. Never raises
into the handler: a refused or failed send is counted in `Client.failed`."""

from __future__ import annotations

import contextvars
import functools
import os
import secrets
import socket
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple, TypeVar

from . import _protocol as p

F = TypeVar("F", bound=Callable[..., Any])

#: About the lines an aggregate holds before it sends them without waiting for the
#: handler (16 datagrams, a burst Linux's default receive buffer takes whole).
AGGREGATE_FLUSH_BYTES = 16 * p.RECOMMENDED_DATAGRAM_BYTES


class _Shorthands:
    """`count`, `gauge` and `timing`, for the client and the aggregate alike."""

    def metric(self, name: str, value: float, *, kind: str = "distribution", unit: str = "None",
               dimensions: Optional[Mapping[str, str]] = None,
               high_resolution: bool = False) -> bool:
        raise NotImplementedError

    def count(self, name: str, value: float = 1, *, dimensions: Optional[Mapping[str, str]] = None,
              unit: str = "Count", high_resolution: bool = False) -> bool:
        """Adds `value` to a counter. True when the event was handed to the kernel."""
        return self.metric(name, value, kind="count", unit=unit, dimensions=dimensions,
                           high_resolution=high_resolution)

    def gauge(self, name: str, value: float, *, dimensions: Optional[Mapping[str, str]] = None,
              unit: str = "None", high_resolution: bool = False) -> bool:
        """Sets a gauge (the last value of a flush is published)."""
        return self.metric(name, value, kind="gauge", unit=unit, dimensions=dimensions,
                           high_resolution=high_resolution)

    def timing(self, name: str, millis: float, *, dimensions: Optional[Mapping[str, str]] = None,
               high_resolution: bool = False) -> bool:
        """Records a duration sample in milliseconds."""
        return self.metric(name, millis, kind="distribution", unit="Milliseconds",
                           dimensions=dimensions, high_resolution=high_resolution)


class Client(_Shorthands):
    """Sends events to the extension on 127.0.0.1:`port` (default: `LIFTWATCH_PORT`, else
    9325). Thread-safe; create one per process."""

    def __init__(self, port: Optional[int] = None) -> None:
        if port is None:
            try:
                port = int(os.environ.get(p.PORT_VAR) or p.DEFAULT_PORT)
            except ValueError:
                port = p.DEFAULT_PORT
        self.port = port
        self.sent = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._sender = secrets.token_hex(8)
        self._seq = 0
        self._numbered_sent = 0
        self._socket: Optional[socket.socket] = None
        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.connect(("127.0.0.1", port))
            self._socket = sock
        except OSError:
            self._socket = None

    def close(self) -> None:
        """Closes the socket; later calls are counted as failed."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    # Metrics -------------------------------------------------------------------------

    def metric(self, name: str, value: float, *, kind: str = "distribution", unit: str = "None",
               dimensions: Optional[Mapping[str, str]] = None,
               high_resolution: bool = False) -> bool:
        """Sends any metric: `kind` is "count", "gauge" or "distribution"."""
        try:
            event = p.metric_event(name, value, unit, kind, dimensions,
                                   1 if high_resolution else 60)
        except p.ProtocolError:
            return self._tally(False, 1)
        return self._send(p.metric_line(*event))

    # Other events --------------------------------------------------------------------

    def rate_limit(self, rule: str, outcome: str, *, window_seconds: int,
                   key_class: Optional[str] = None, limit: Optional[int] = None,
                   remaining: Optional[int] = None, window_start: Optional[int] = None) -> bool:
        """Reports a rate-limit decision: `outcome` is "allowed", "blocked" or "error"."""
        try:
            line = p.rate_limit_line(rule, outcome, window_seconds, key_class, limit,
                                     remaining, window_start)
        except p.ProtocolError:
            return self._tally(False, 1)
        return self._send(line)

    def connection_opened(self) -> bool:
        """A WebSocket connection was opened."""
        return self._send(p.connection_line("opened"))

    def connection_closed(self) -> bool:
        """A WebSocket connection was closed."""
        return self._send(p.connection_line("closed"))

    def message(self, size: int = 0) -> bool:
        """A WebSocket message of `size` bytes went through."""
        return self._send(p.connection_line("message", size))

    # Spans ---------------------------------------------------------------------------

    def span(self, name: str, *, kind: str = "internal",
             attributes: Optional[Mapping[str, object]] = None) -> "Span":
        """A span timing part of the handler, in the invocation's trace
        (`_X_AMZN_TRACE_ID`), under the span open around it if any; sent when it ends:
        `with client.span("db.query", kind="client") as span: span.set_attribute("rows", 3)`.
        An exception leaving the block marks the span failed and goes on."""
        return Span(self, name, kind, attributes)

    # Aggregation ---------------------------------------------------------------------

    def aggregate(self) -> "Aggregate":
        """An aggregate: a context manager that folds metric calls and sends them when the
        block ends (`with client.aggregate() as metrics: ...`)."""
        return Aggregate(self)

    def aggregated(self, handler: F) -> F:
        """Decorates a handler: `metrics` calls inside go through one aggregate per
        invocation, sent when the handler returns or raises. The aggregate is the
        handler's keyword argument `metrics` when it takes one."""

        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.aggregate() as metrics:
                if _accepts_metrics(handler):
                    kwargs["metrics"] = metrics
                return handler(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    # Transport -----------------------------------------------------------------------

    def _send(self, line: str) -> bool:
        data = line.encode()
        if len(data) > p.MAX_DATAGRAM_BYTES or self._socket is None:
            return self._tally(False, 1)
        try:
            self._socket.send(data)
        except OSError:
            return self._tally(False, 1)
        return self._tally(True, 1)

    def _send_numbered(self, lines: List[str]) -> bool:
        """Sends `lines` as this client's next numbered datagram (docs/PROTOCOL.md)."""
        if self._socket is None:
            return self._tally(False, len(lines))
        with self._lock:
            seq = self._seq + 1
            body = "\n".join(lines + [p.sequence_line(self._sender, seq, self._numbered_sent)])
            try:
                self._socket.send(body.encode())
            except OSError:
                ok = False
            else:
                ok = True
                self._seq = seq
                self._numbered_sent += len(lines)
        return self._tally(ok, len(lines))

    def _tally(self, ok: bool, events: int) -> bool:
        with self._lock:
            if ok:
                self.sent += events
            else:
                self.failed += events
        return ok


_current_span: "contextvars.ContextVar[Optional[Span]]" = contextvars.ContextVar(
    "liftwatch_span", default=None)


class Span:
    """A span: a context manager (see `Client.span`), or `end()` called by hand."""

    def __init__(self, client: Client, name: str, kind: str,
                 attributes: Optional[Mapping[str, object]]) -> None:
        self._client = client
        self.name = name
        self.kind = kind
        self.attributes: Dict[str, object] = dict(attributes or {})
        self.span_id = secrets.token_hex(8)
        parent = _current_span.get()
        if parent is not None:
            self.trace_id, self.parent_span_id, self.sampled = (
                parent.trace_id, parent.span_id, parent.sampled)
        else:
            root, header_parent, sampled = p.trace_context(os.environ.get("_X_AMZN_TRACE_ID"))
            self.trace_id = root or secrets.token_hex(16)
            self.parent_span_id, self.sampled = header_parent, sampled
        self.start_unix_nano = time.time_ns()
        self.error: Optional[str] = None
        self._token: Optional[contextvars.Token] = None
        self._ended = False

    def set_attribute(self, key: str, value: object) -> "Span":
        """Adds or replaces an attribute (string, number or boolean)."""
        self.attributes[key] = value
        return self

    def fail(self, message: str) -> "Span":
        """Marks the span failed with `message`."""
        self.error = message
        return self

    def end(self) -> bool:
        """Ends the span and sends it (once); False if it was refused or not sent."""
        if self._ended:
            return False
        self._ended = True
        try:
            line = p.span_line(self.name, self.trace_id, self.span_id, self.parent_span_id,
                               self.start_unix_nano, time.time_ns(), self.kind, self.error,
                               self.sampled, self.attributes)
        except p.ProtocolError:
            return self._client._tally(False, 1)
        return self._client._send(line)

    def __enter__(self) -> "Span":
        self._token = _current_span.set(self)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if self._token is not None:
            _current_span.reset(self._token)
            self._token = None
        if exc_type is not None and self.error is None:
            self.error = str(exc) or exc_type.__name__
        self.end()


def _accepts_metrics(handler: Callable[..., Any]) -> bool:
    code = getattr(handler, "__code__", None)
    return code is not None and "metrics" in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]


_Key = Tuple[str, str, str, p.Dimensions, int]


class Aggregate(_Shorthands):
    """Metric calls folded in the process: counts summed, gauges last, distributions as
    each distinct value with its count. Sent as numbered 8 KiB datagrams by `flush()`, at
    the end of a `with` block, and early once about 128 KiB of lines pile up."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._series: Dict[_Key, Any] = {}
        self._lines = 0
        self._bytes = 0

    def __enter__(self) -> "Aggregate":
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()

    def __len__(self) -> int:
        return self._lines

    def metric(self, name: str, value: float, *, kind: str = "distribution", unit: str = "None",
               dimensions: Optional[Mapping[str, str]] = None,
               high_resolution: bool = False) -> bool:
        """Folds one call in; False (and counted) when the metric is refused."""
        try:
            name, value, unit, kind, pairs, resolution = p.metric_event(
                name, value, unit, kind, dimensions, 1 if high_resolution else 60)
        except p.ProtocolError:
            return self._client._tally(False, 1)
        key = (name, unit, kind, pairs, resolution)
        state = self._series.get(key)
        line_bytes = len(name.encode()) + sum(len(n) + len(v) + 6 for n, v in pairs) + 120
        if state is None:
            self._series[key] = {value or 0.0: 1} if kind == "distribution" else value
            self._grow(line_bytes)
        elif kind == "count":
            total = state + value
            try:
                p.check_value(total)
            except p.ProtocolError:
                self.flush()
                return self.metric(name, value, kind=kind, unit=unit, dimensions=dict(pairs),
                                   high_resolution=high_resolution)
            self._series[key] = total
        elif kind == "gauge":
            self._series[key] = value
        else:
            value = value or 0.0  # -0 and 0 are one value
            seen = state.get(value, 0)
            if seen == p.MAX_COUNT:
                self.flush()
                return self.metric(name, value, kind=kind, unit=unit, dimensions=dict(pairs),
                                   high_resolution=high_resolution)
            state[value] = seen + 1
            if seen == 0:
                self._grow(line_bytes)
        if self._bytes >= AGGREGATE_FLUSH_BYTES:
            self.flush()
        return True

    def flush(self) -> None:
        """Sends everything folded so far and starts over."""
        lines = []
        for (name, unit, kind, pairs, resolution), state in self._series.items():
            if kind == "distribution":
                for value, count in state.items():
                    lines.append(p.metric_line(name, value, unit, kind, pairs, resolution, count))
            else:
                lines.append(p.metric_line(name, state, unit, kind, pairs, resolution))
        self._series.clear()
        self._lines = self._bytes = 0
        # Room for the sequence line in every datagram.
        for group in p.pack(lines, p.RECOMMENDED_DATAGRAM_BYTES - 128):
            self._client._send_numbered(list(group))

    def _grow(self, line_bytes: int) -> None:
        self._lines += 1
        self._bytes += line_bytes
