"use strict";
// Reads every golden line (sdk/testdata/golden/*.jsonl, file order) and prints one answer
// per line for sdk/tests/clients_conformance.rs: `OK <line as the Node client writes it>`,
// `ERR <field>` when the client refuses it, `SKIP` for what it does not send. The first
// line is the client's reserved names.
const fs = require("node:fs");
const path = require("node:path");
const p = require("../protocol.js");

const BIG = /"(limit|remaining|window_start|window_seconds)":(\d{16,})/g;

function parse(line) {
  // Integers past 2^53 stay exact as BigInt (JSON.parse would round them).
  const event = JSON.parse(line.replace(BIG, '"$1":"big:$2"'), (key, value) =>
    typeof value === "string" && value.startsWith("big:") ? BigInt(value.slice(4)) : value);
  const names = [...line.matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((m) => m[1]);
  return { event, names };
}

const absent = (event, key, fallback) => (event[key] === undefined || event[key] === null ? fallback : event[key]);

function answer(line) {
  let parsed;
  try {
    parsed = parse(line);
  } catch {
    return "SKIP";
  }
  const { event } = parsed;
  if (typeof event !== "object" || event === null || Array.isArray(event) || event.v !== 1) return "SKIP";
  // A member named twice (a JS object cannot hold both): refused, as a real call cannot make it.
  const dims = event.dimensions;
  if (dims && typeof dims === "object" && /"dimensions":\{/.test(line)) {
    const inner = line.slice(line.indexOf('"dimensions":{'));
    const keys = [...inner.slice(0, inner.indexOf("}")).matchAll(/"((?:[^"\\]|\\.)*)":/g)].map((m) => m[1]).slice(1);
    if (new Set(keys).size !== keys.length) return "ERR duplicate";
  }
  try {
    if (event.type === "metric") {
      const resolution = absent(event, "resolution", 60);
      if (resolution !== 1 && resolution !== 60) throw new p.ProtocolError("resolution", "must be 1 or 60");
      const checked = p.metricEvent(event.name, event.value, {
        unit: absent(event, "unit", "None"),
        kind: absent(event, "kind", "distribution"),
        dimensions: absent(event, "dimensions", {}),
        highResolution: resolution === 1,
      });
      const count = absent(event, "count", 1);
      if (!Number.isInteger(count) || count < 1 || count > p.MAX_COUNT) throw new p.ProtocolError("count", "must be 1-4294967295");
      if (count !== 1 && checked.kind !== "distribution") throw new p.ProtocolError("count", "above 1 only for a distribution");
      return `OK ${p.metricLine(checked, count)}`;
    }
    if (event.type === "ratelimit") {
      return `OK ${p.rateLimitLine(event.rule, event.outcome, {
        windowSeconds: event.window_seconds,
        keyClass: event.key_class,
        limit: event.limit,
        remaining: event.remaining,
        windowStart: event.window_start,
      })}`;
    }
  } catch (error) {
    return error instanceof p.ProtocolError ? `ERR ${error.field}` : "ERR shape";
  }
  return "SKIP";
}

const golden = process.argv[2];
const out = [JSON.stringify([...p.RESERVED_METRIC_NAMES].sort())];
for (const file of fs.readdirSync(golden).filter((f) => f.endsWith(".jsonl")).sort()) {
  for (const line of fs.readFileSync(path.join(golden, file), "utf8").split("\n")) {
    if (line.trim()) out.push(answer(line));
  }
}
process.stdout.write(`${out.join("\n")}\n`);
