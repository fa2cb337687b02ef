"use strict";
// The wire protocol (docs/PROTOCOL.md, version 1): validation and the canonical encoding,
// byte for byte what the Rust SDK writes (sdk/tests/clients_conformance.rs checks every golden
// line). A refused event throws ProtocolError here; the client counts it, never throws.

const DEFAULT_PORT = 9325;
const PORT_VAR = "LIFTWATCH_PORT";
const MAX_DATAGRAM_BYTES = 65507;
const RECOMMENDED_DATAGRAM_BYTES = 8192;
const MAX_NAME_CHARS = 255;
const MAX_DIMENSION_NAME_CHARS = 250;
const MAX_DIMENSION_VALUE_CHARS = 1024;
const MAX_DIMENSIONS = 29;
const MAX_MAGNITUDE = 1.174271e108;
const MIN_MAGNITUDE = 8.51592e-109;
const MAX_COUNT = 4294967295;

const UNITS = new Set(
  `Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes Bits
  Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second
  Megabytes/Second Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second
  Megabits/Second Gigabits/Second Terabits/Second Count/Second None`.split(/\s+/),
);
const KINDS = new Set(["count", "gauge", "distribution"]);
const OUTCOMES = new Set(["allowed", "blocked", "error"]);
const RESERVED_METRIC_NAMES = new Set(
  `Invocations Errors Timeouts OutOfMemory ColdStarts ProactiveInitializations Restores
  EstimatedCost Duration RuntimeDuration PostRuntimeDuration BilledDuration InitDuration
  RestoreDuration BilledRestoreDuration MemoryUtilization MaxMemoryUsed MemorySize
  CpuUserTime CpuSystemTime CpuTotalTime RxBytes TxBytes TotalNetwork TmpUsed TmpMax FdUse
  FdMax ThreadsUse ThreadsMax TracesGenerated TracesSampled TraceErrors SpansExported
  SpansDropped SpansTruncated ActiveConnections ConnectionsOpened ConnectionsClosed ConnectionCountErrors
  Messages MessageBytes RateLimitRequests RateLimitAllowed RateLimitBlocked RateLimitErrors
  EventsReceived EventsDropped EventsDroppedEstimated EventsMalformed SinkErrors
  FlushDuration`.split(/\s+/),
);
const KEY_CLASS = /^[A-Za-z0-9_.:-]{1,64}$/;

class ProtocolError extends Error {
  constructor(field, reason) {
    super(`${field}: ${reason}`);
    this.name = "ProtocolError";
    this.field = field;
    this.reason = reason;
  }
}

/** Characters as the protocol counts them: Unicode scalar values. */
const chars = (text) => [...text].length;
const blank = (text) => text.trim() === "";
// eslint-disable-next-line no-control-regex
const hasControl = (text) => /[\u0000-\u001f\u007f-\u009f]/.test(text);
const isUnsigned = (v) => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0)
  || (typeof v === "bigint" && v >= 0n && v < 2n ** 64n);

function checkName(field, name) {
  if (typeof name !== "string" || blank(name)) throw new ProtocolError(field, "must not be empty or blank");
  if (chars(name) > MAX_NAME_CHARS) throw new ProtocolError(field, "longer than 255 characters");
  if (name === "_aws") throw new ProtocolError(field, "_aws is reserved by the embedded metric format");
  if (hasControl(name)) throw new ProtocolError(field, "contains a control character");
  return name;
}

function checkValue(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new ProtocolError("value", "must be a finite number");
  const magnitude = Math.abs(value);
  if (magnitude > MAX_MAGNITUDE || (magnitude !== 0 && magnitude < MIN_MAGNITUDE)) {
    throw new ProtocolError("value", "outside cloudwatch's range");
  }
  return value;
}

/** Byte order of UTF-8, as the Rust SDK sorts dimension names. */
function compareUtf8(a, b) {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function checkDimensions(dimensions) {
  if (dimensions === undefined || dimensions === null) return [];
  const pairs = Object.entries(dimensions);
  if (pairs.length > MAX_DIMENSIONS) throw new ProtocolError("dimensions", "more than 29");
  for (const [name, value] of pairs) {
    checkName("dimensions", name);
    // eslint-disable-next-line no-control-regex
    if (chars(name) > MAX_DIMENSION_NAME_CHARS || !/^[\x00-\x7f]*$/.test(name) || name.startsWith(":")) {
      throw new ProtocolError("dimensions", "invalid dimension name");
    }
    if (name === "FunctionName") throw new ProtocolError("dimensions", "FunctionName is added by the extension");
    if (typeof value !== "string" || blank(value) || hasControl(value)) {
      throw new ProtocolError("dimensions", "invalid dimension value");
    }
    if (chars(value) > MAX_DIMENSION_VALUE_CHARS) throw new ProtocolError("dimensions", "dimension value longer than 1024 characters");
  }
  return pairs.sort((a, b) => compareUtf8(a[0], b[0]));
}

/** The shortest decimal that reads back as `value`, without an exponent. */
function number(value) {
  if (Object.is(value, -0)) return "-0";
  const text = String(value);
  const match = /^(-?)(\d+)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!match) return text;
  const [, sign, int, frac = "", exp] = match;
  const digits = int + frac;
  const point = int.length + Number(exp);
  if (point <= 0) return `${sign}0.${"0".repeat(-point)}${digits}`;
  if (point >= digits.length) return sign + digits + "0".repeat(point - digits.length);
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

const string = (text) => JSON.stringify(text);

function metricEvent(name, value, { unit = "None", kind = "distribution", dimensions, highResolution = false } = {}) {
  checkName("name", name);
  if (RESERVED_METRIC_NAMES.has(name)) throw new ProtocolError("name", "reserved for the extension's own metrics");
  checkValue(value);
  if (!UNITS.has(unit)) throw new ProtocolError("unit", "not a cloudwatch unit name");
  if (!KINDS.has(kind)) throw new ProtocolError("kind", "not count|gauge|distribution");
  const pairs = checkDimensions(dimensions);
  if (pairs.some(([n]) => n === name)) {
    throw new ProtocolError("name", "a metric cannot share its name with one of its dimensions");
  }
  return { name, value, unit, kind, pairs, resolution: highResolution ? 1 : 60 };
}

function metricLine({ name, value, unit, kind, pairs, resolution }, count = 1) {
  let line = `{"v":1,"type":"metric","name":${string(name)},"value":${number(value)}`;
  if (count !== 1) line += `,"count":${count}`;
  line += `,"unit":"${unit}","kind":"${kind}"`;
  if (pairs.length) line += `,"dimensions":{${pairs.map(([n, v]) => `${string(n)}:${string(v)}`).join(",")}}`;
  if (resolution === 1) line += ',"resolution":1';
  return `${line}}`;
}

function rateLimitLine(rule, outcome, { windowSeconds, keyClass, limit, remaining, windowStart } = {}) {
  if (typeof rule !== "string" || blank(rule)) throw new ProtocolError("rule", "must not be empty or blank");
  if (chars(rule) > MAX_NAME_CHARS || hasControl(rule) || rule.includes("#")) {
    throw new ProtocolError("rule", "longer than 255 characters, a control character or '#'");
  }
  if (!OUTCOMES.has(outcome)) throw new ProtocolError("outcome", "not allowed|blocked|error");
  if (!isUnsigned(windowSeconds) || windowSeconds < 1 || windowSeconds > 86400) {
    throw new ProtocolError("window_seconds", "must be 1-86400");
  }
  let line = `{"v":1,"type":"ratelimit","rule":${string(rule)},"outcome":"${outcome}"`;
  if (keyClass !== undefined && keyClass !== null) {
    if (typeof keyClass !== "string" || !KEY_CLASS.test(keyClass)) {
      throw new ProtocolError("key_class", "must be 1-64 characters of A-Z a-z 0-9 _ . : -");
    }
    line += `,"key_class":${string(keyClass)}`;
  }
  for (const [field, value] of [["limit", limit], ["remaining", remaining]]) {
    if (value === undefined || value === null) continue;
    if (!isUnsigned(value)) throw new ProtocolError(field, "must be an integer from 0 to 2^64-1");
    line += `,"${field}":${value}`;
  }
  if (limit != null && remaining != null && BigInt(remaining) > BigInt(limit)) {
    throw new ProtocolError("remaining", "must not exceed limit");
  }
  line += `,"window_seconds":${windowSeconds}`;
  if (windowStart !== undefined && windowStart !== null) {
    if (!isUnsigned(windowStart) || BigInt(windowStart) % BigInt(windowSeconds) !== 0n) {
      throw new ProtocolError("window_start", "must be a multiple of window_seconds");
    }
    line += `,"window_start":${windowStart}`;
  }
  return `${line}}`;
}

/** Lines grouped so that each group, joined by newlines, stays within `budget` bytes. */
function pack(lines, budget) {
  const groups = [];
  let current = [];
  let size = 0;
  for (const line of lines) {
    const length = Buffer.byteLength(line);
    if (current.length && size + 1 + length > budget) {
      groups.push(current);
      current = [];
      size = 0;
    }
    size += length + (current.length ? 1 : 0);
    current.push(line);
  }
  if (current.length) groups.push(current);
  return groups;
}

const SPAN_KINDS = new Set(["internal", "server", "client", "producer", "consumer"]);
const MAX_SPAN_ATTRIBUTES = 64;
const MAX_SPAN_TEXT_CHARS = 4096;
const MAX_SPAN_ARRAY_ITEMS = 128;

function checkScalar(value) {
  if (typeof value === "string") {
    if (chars(value) > MAX_SPAN_TEXT_CHARS) {
      throw new ProtocolError("attributes", "string values must be at most 4096 characters");
    }
  } else if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new ProtocolError("attributes", "numbers must be finite");
  } else if (typeof value !== "boolean") {
    throw new ProtocolError("attributes", "values must be strings, numbers, booleans or arrays of them");
  }
}

function hexId(field, value, digits) {
  const id = typeof value === "string" ? value.toLowerCase() : "";
  if (id.length !== digits || !/^[0-9a-f]+$/.test(id) || /^0+$/.test(id)) {
    throw new ProtocolError(field, `must be ${digits} hex digits, not all zero`);
  }
  return id;
}

/** [traceId, parentSpanId, sampled] from an X-Ray trace header; nulls when absent. */
function traceContext(header) {
  let root = null;
  let parent = null;
  let sampled = true;
  for (const part of (header ?? "").split(";")) {
    const [key, value = ""] = part.trim().split("=", 2);
    if (key === "Root" && /^1-[0-9a-fA-F]{8}-[0-9a-fA-F]{24}$/.test(value)) {
      const id = value.slice(2).replace("-", "").toLowerCase();
      if (!/^0+$/.test(id)) root = id;
    } else if (key === "Parent" && /^[0-9a-fA-F]{16}$/.test(value)) {
      parent = value.toLowerCase();
    } else if (key === "Sampled") {
      sampled = value !== "0";
    }
  }
  return [root, parent, sampled];
}

/** A `span` event (docs/PROTOCOL.md, "Spans"), keys sorted as the Rust SDK writes them. */
function spanLine(span) {
  checkName("name", span.name);
  const kind = span.kind ?? "internal";
  if (!SPAN_KINDS.has(kind)) {
    throw new ProtocolError("kind", "must be internal, server, client, producer or consumer");
  }
  const start = BigInt(span.startUnixNano);
  const end = BigInt(span.endUnixNano) > start ? BigInt(span.endUnixNano) : start;
  const fields = {
    attributes: undefined,
    end_unix_nano: end,
    error: span.error == null ? undefined : [...String(span.error)].slice(0, MAX_SPAN_TEXT_CHARS).join(""),
    kind,
    name: span.name,
    parent_span_id: span.parentSpanId == null ? undefined : hexId("parent_span_id", span.parentSpanId, 16),
    sampled: span.sampled !== false,
    span_id: hexId("span_id", span.spanId, 16),
    start_unix_nano: start,
    trace_id: hexId("trace_id", span.traceId, 32),
    type: "span",
    v: 1,
  };
  const entries = Object.entries(span.attributes ?? {});
  if (entries.length > MAX_SPAN_ATTRIBUTES) throw new ProtocolError("attributes", "more than 64 attributes");
  if (entries.length > 0) {
    const attributes = {};
    for (const [key, value] of entries.sort(([a], [b]) => compareUtf8(a, b))) {
      checkName("attributes", key);
      if (Array.isArray(value)) {
        if (value.length > MAX_SPAN_ARRAY_ITEMS) throw new ProtocolError("attributes", "an array of more than 128 items");
        value.forEach(checkScalar);
      } else {
        checkScalar(value);
      }
      attributes[key] = value;
    }
    fields.attributes = attributes;
  }
  const parts = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const text = typeof value === "bigint" ? value.toString() : JSON.stringify(value);
    parts.push(`${JSON.stringify(key)}:${text}`);
  }
  return `{${parts.join(",")}}`;
}

module.exports = {
  DEFAULT_PORT,
  PORT_VAR,
  MAX_DATAGRAM_BYTES,
  RECOMMENDED_DATAGRAM_BYTES,
  MAX_COUNT,
  RESERVED_METRIC_NAMES,
  ProtocolError,
  checkValue,
  metricEvent,
  metricLine,
  spanLine,
  traceContext,
  number,
  pack,
  rateLimitLine,
};
