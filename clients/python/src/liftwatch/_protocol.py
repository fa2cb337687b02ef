"""The wire protocol (docs/PROTOCOL.md, version 1): validation and the canonical encoding.

Lines are written exactly as the Rust SDK writes them (field order, number form, escapes),
which `sdk/tests/clients_conformance.rs` checks line by line against the Rust encoder on every
golden file. Validation follows the same rules; a refused event raises `ProtocolError`
here and is counted, never raised, by the client.
"""

from __future__ import annotations

import json
import math
import re
from decimal import Decimal
from typing import Iterable, Mapping, Optional, Sequence, Tuple

VERSION = 1
DEFAULT_PORT = 9325
PORT_VAR = "LIFTWATCH_PORT"
MAX_DATAGRAM_BYTES = 65_507
RECOMMENDED_DATAGRAM_BYTES = 8_192
MAX_NAME_CHARS = 255
MAX_DIMENSION_NAME_CHARS = 250
MAX_DIMENSION_VALUE_CHARS = 1_024
MAX_DIMENSIONS = 29
MAX_MAGNITUDE = 1.174271e108
MIN_MAGNITUDE = 8.515920e-109
MAX_COUNT = 4_294_967_295
RESERVED_DIMENSION = "FunctionName"
METADATA_MEMBER = "_aws"

UNITS = frozenset(
    """Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits
    Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second
    Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second
    Megabits/Second Gigabits/Second Terabits/Second Count/Second None""".split()
)
KINDS = ("count", "gauge", "distribution")
OUTCOMES = ("allowed", "blocked", "error")

# The extension's own metric names (docs/METRICS.md): a handler metric may not take one.
RESERVED_METRIC_NAMES = frozenset(
    """Invocations Errors Timeouts OutOfMemory ColdStarts ProactiveInitializations Restores
    EstimatedCost Duration RuntimeDuration PostRuntimeDuration BilledDuration InitDuration
    RestoreDuration BilledRestoreDuration MemoryUtilization MaxMemoryUsed MemorySize
    CpuUserTime CpuSystemTime CpuTotalTime RxBytes TxBytes TotalNetwork TmpUsed TmpMax FdUse
    FdMax ThreadsUse ThreadsMax TracesGenerated TracesSampled TraceErrors SpansExported
    SpansDropped SpansTruncated ActiveConnections ConnectionsOpened ConnectionsClosed ConnectionCountErrors
    Messages MessageBytes RateLimitRequests RateLimitAllowed RateLimitBlocked RateLimitErrors
    EventsReceived EventsDropped EventsDroppedEstimated EventsMalformed SinkErrors
    FlushDuration""".split()
)

Dimensions = Tuple[Tuple[str, str], ...]


class ProtocolError(ValueError):
    """An event the protocol refuses: `field` says which part, the message why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _blank(text: str) -> bool:
    return not text.strip()


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text)


def check_name(field: str, name: object) -> str:
    if not isinstance(name, str) or _blank(name):
        raise ProtocolError(field, "must not be empty or blank")
    if len(name) > MAX_NAME_CHARS:
        raise ProtocolError(field, "longer than 255 characters")
    if name == METADATA_MEMBER:
        raise ProtocolError(field, "_aws is reserved by the embedded metric format")
    if _has_control(name):
        raise ProtocolError(field, "contains a control character")
    return name


def check_metric_name(name: object) -> str:
    name = check_name("name", name)
    if name in RESERVED_METRIC_NAMES:
        raise ProtocolError("name", "reserved for the extension's own metrics")
    return name


def check_value(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ProtocolError("value", "must be a finite number")
    value = float(value)
    if not math.isfinite(value):
        raise ProtocolError("value", "must be a finite number")
    magnitude = abs(value)
    if magnitude > MAX_MAGNITUDE or (magnitude != 0.0 and magnitude < MIN_MAGNITUDE):
        raise ProtocolError("value", "outside cloudwatch's range")
    return value


def check_dimensions(dimensions: Optional[Mapping[str, str]]) -> Dimensions:
    """The dimensions sorted by name (byte order, as the Rust SDK sorts them)."""
    if not dimensions:
        return ()
    if len(dimensions) > MAX_DIMENSIONS:
        raise ProtocolError("dimensions", "more than 29")
    pairs = []
    for name, value in dimensions.items():
        check_name("dimensions", name)
        if len(name) > MAX_DIMENSION_NAME_CHARS or not name.isascii() or name.startswith(":"):
            raise ProtocolError("dimensions", "invalid dimension name")
        if name == RESERVED_DIMENSION:
            raise ProtocolError("dimensions", "FunctionName is added by the extension")
        if not isinstance(value, str) or _blank(value) or _has_control(value):
            raise ProtocolError("dimensions", "invalid dimension value")
        if len(value) > MAX_DIMENSION_VALUE_CHARS:
            raise ProtocolError("dimensions", "dimension value longer than 1024 characters")
        pairs.append((name, value))
    return tuple(sorted(pairs, key=lambda pair: pair[0].encode()))


def number(value: float) -> str:
    """The shortest decimal that reads back as `value`, without an exponent; integers
    without a fraction (`1`, `-0`, `0.25`, `0.0000001`, `1000000000000000000000`)."""
    if value == 0.0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def metric_line(
    name: str,
    value: float,
    unit: str,
    kind: str,
    dimensions: Dimensions = (),
    resolution: int = 60,
    count: int = 1,
) -> str:
    """A validated metric event's line (validate with `metric_event`)."""
    parts = ['{"v":1,"type":"metric","name":', string(name), ',"value":', number(value)]
    if count != 1:
        parts += [',"count":', str(count)]
    parts += [',"unit":"', unit, '","kind":"', kind, '"']
    if dimensions:
        members = ",".join(f"{string(n)}:{string(v)}" for n, v in dimensions)
        parts += [',"dimensions":{', members, "}"]
    if resolution == 1:
        parts.append(',"resolution":1')
    parts.append("}")
    return "".join(parts)


def metric_event(
    name: object,
    value: object,
    unit: str,
    kind: str,
    dimensions: Optional[Mapping[str, str]],
    resolution: int,
) -> Tuple[str, float, str, str, Dimensions, int]:
    """Validates a metric call: (name, value, unit, kind, sorted dimensions, resolution)."""
    name = check_metric_name(name)
    value = check_value(value)
    if unit not in UNITS:
        raise ProtocolError("unit", "not a cloudwatch unit name")
    if kind not in KINDS:
        raise ProtocolError("kind", "not count|gauge|distribution")
    if resolution not in (1, 60):
        raise ProtocolError("resolution", "must be 1 or 60")
    pairs = check_dimensions(dimensions)
    if any(n == name for n, _ in pairs):
        raise ProtocolError("name", "a metric cannot share its name with one of its dimensions")
    return name, value, unit, kind, pairs, resolution


def rate_limit_line(
    rule: object,
    outcome: str,
    window_seconds: int,
    key_class: Optional[str] = None,
    limit: Optional[int] = None,
    remaining: Optional[int] = None,
    window_start: Optional[int] = None,
) -> str:
    """A rate-limit decision's line, validated."""
    if not isinstance(rule, str) or _blank(rule):
        raise ProtocolError("rule", "must not be empty or blank")
    if len(rule) > MAX_NAME_CHARS or _has_control(rule) or "#" in rule:
        raise ProtocolError("rule", "longer than 255 characters, a control character or '#'")
    if outcome not in OUTCOMES:
        raise ProtocolError("outcome", "not allowed|blocked|error")
    if not _unsigned(window_seconds) or not 1 <= window_seconds <= 86_400:
        raise ProtocolError("window_seconds", "must be 1-86400")
    parts = ['{"v":1,"type":"ratelimit","rule":', string(rule), ',"outcome":"', outcome, '"']
    if key_class is not None:
        if not isinstance(key_class, str) or not _KEY_CLASS.fullmatch(key_class):
            raise ProtocolError("key_class", "must be 1-64 characters of A-Z a-z 0-9 _ . : -")
        parts += [',"key_class":', string(key_class)]
    for field, value in (("limit", limit), ("remaining", remaining)):
        if value is not None:
            if not _unsigned(value):
                raise ProtocolError(field, "must be an integer from 0 to 2^64-1")
            parts += [f',"{field}":', str(value)]
    if limit is not None and remaining is not None and remaining > limit:
        raise ProtocolError("remaining", "must not exceed limit")
    parts += [',"window_seconds":', str(window_seconds)]
    if window_start is not None:
        if not _unsigned(window_start) or window_start % window_seconds:
            raise ProtocolError("window_start", "must be a multiple of window_seconds")
        parts += [',"window_start":', str(window_start)]
    parts.append("}")
    return "".join(parts)


_KEY_CLASS = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def _unsigned(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64


def connection_line(event: str, size: Optional[int] = None) -> str:
    if event == "message":
        return '{"v":1,"type":"connection","event":"message","bytes":%d}' % max(0, size or 0)
    return '{"v":1,"type":"connection","event":"%s"}' % event


def sequence_line(sender: str, seq: int, sent: int) -> str:
    return '{"v":1,"type":"sequence","sender":"%s","seq":%d,"sent":%d}' % (sender, seq, sent)


def pack(lines: Iterable[str], budget: int = RECOMMENDED_DATAGRAM_BYTES) -> Sequence[Sequence[str]]:
    """Lines grouped so that each group, joined by newlines, stays within `budget` bytes
    (a line longer than the budget goes alone)."""
    groups, current, size = [], [], 0
    for line in lines:
        length = len(line.encode())
        if current and size + 1 + length > budget:
            groups.append(current)
            current, size = [], 0
        size += length + (1 if current else 0)
        current.append(line)
    if current:
        groups.append(current)
    return groups


SPAN_KINDS = ("internal", "server", "client", "producer", "consumer")
MAX_SPAN_ATTRIBUTES = 64
MAX_SPAN_TEXT_CHARS = 4_096
MAX_SPAN_ARRAY_ITEMS = 128
_HEX = re.compile(r"^[0-9a-f]+$")


def _hex_id(field: str, value: str, digits: int) -> str:
    value = value.lower()
    if len(value) != digits or not _HEX.match(value) or set(value) == {"0"}:
        raise ProtocolError(field, f"must be {digits} hex digits, not all zero")
    return value


def trace_context(header: Optional[str]) -> Tuple[Optional[str], Optional[str], bool]:
    """(trace id, parent span id, sampled) from an X-Ray trace header
    (`Root=1-5759e988-bd862e3f...;Parent=53995c3f42cd8ad8;Sampled=1`); Nones when absent."""
    root = parent = None
    sampled = True
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == "Root" and value.startswith("1-") and value.count("-") == 2:
            candidate = value[2:].replace("-", "").lower()
            if len(candidate) == 32 and _HEX.match(candidate) and set(candidate) != {"0"}:
                root = candidate
        elif key == "Parent" and len(value) == 16 and _HEX.match(value.lower()):
            parent = value.lower()
        elif key == "Sampled":
            sampled = value != "0"
    return root, parent, sampled


def span_line(name: str, trace_id: str, span_id: str, parent_span_id: Optional[str],
              start_unix_nano: int, end_unix_nano: int, kind: str = "internal",
              error: Optional[str] = None, sampled: bool = True,
              attributes: Optional[Mapping[str, object]] = None) -> str:
    """A `span` event (docs/PROTOCOL.md, "Spans"), keys in the Rust SDK's (sorted) order;
    an error message is cut to 4,096 characters."""
    check_name("name", name)
    if kind not in SPAN_KINDS:
        raise ProtocolError("kind", "must be internal, server, client, producer or consumer")
    line: dict = {
        "v": VERSION,
        "type": "span",
        "name": name,
        "trace_id": _hex_id("trace_id", trace_id, 32),
        "span_id": _hex_id("span_id", span_id, 16),
        "start_unix_nano": int(start_unix_nano),
        "end_unix_nano": max(int(end_unix_nano), int(start_unix_nano)),
        "kind": kind,
        "sampled": bool(sampled),
    }
    if parent_span_id is not None:
        line["parent_span_id"] = _hex_id("parent_span_id", parent_span_id, 16)
    if error is not None:
        line["error"] = error[:MAX_SPAN_TEXT_CHARS]
    if attributes:
        if len(attributes) > MAX_SPAN_ATTRIBUTES:
            raise ProtocolError("attributes", "more than 64 attributes")
        checked = {}
        for key, value in attributes.items():
            check_name("attributes", key)
            if isinstance(value, (list, tuple)):
                if len(value) > MAX_SPAN_ARRAY_ITEMS:
                    raise ProtocolError("attributes", "an array of more than 128 items")
                for item in value:
                    _check_scalar(item)
                checked[key] = list(value)
                continue
            _check_scalar(value)
            checked[key] = value
        line["attributes"] = checked
    return json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _check_scalar(value: object) -> None:
    if isinstance(value, str):
        if len(value) > MAX_SPAN_TEXT_CHARS:
            raise ProtocolError("attributes", "string values must be at most 4096 characters")
    elif isinstance(value, bool):
        pass
    elif isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise ProtocolError("attributes", "integers must fit in 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ProtocolError("attributes", "numbers must be finite")
    else:
        raise ProtocolError(
            "attributes", "values must be strings, numbers, booleans or arrays of them")
