"use strict";
// liftwatch for Node: one UDP datagram per call to the extension on 127.0.0.1, or calls
// folded in-process by an aggregate and sent in numbered 8 KiB datagrams when the handler
// returns. Never throws into the handler: refused or failed sends are counted in `failed`.

const dgram = require("node:dgram");
const crypto = require("node:crypto");
const p = require("./protocol.js");

/** Lines an aggregate holds before it sends them early (16 datagrams' worth). */
const AGGREGATE_FLUSH_BYTES = 16 * p.RECOMMENDED_DATAGRAM_BYTES;

/** `count`, `gauge` and `timing`, for the client and the aggregate alike. */
class Shorthands {
  count(name, value = 1, { dimensions, unit = "Count", highResolution = false } = {}) {
    return this.metric(name, value, { kind: "count", unit, dimensions, highResolution });
  }

  gauge(name, value, { dimensions, unit = "None", highResolution = false } = {}) {
    return this.metric(name, value, { kind: "gauge", unit, dimensions, highResolution });
  }

  timing(name, millis, { dimensions, highResolution = false } = {}) {
    return this.metric(name, millis, { kind: "distribution", unit: "Milliseconds", dimensions, highResolution });
  }
}

class Client extends Shorthands {
  /** @param {{ port?: number }} [options] */
  constructor({ port } = {}) {
    super();
    const fromEnv = Number.parseInt(process.env[p.PORT_VAR] ?? "", 10);
    this.port = port ?? (Number.isInteger(fromEnv) ? fromEnv : p.DEFAULT_PORT);
    this.sent = 0;
    this.failed = 0;
    this.sender = crypto.randomBytes(8).toString("hex");
    this.seq = 0;
    this.numberedSent = 0;
    try {
      this.socket = dgram.createSocket("udp4");
      this.socket.unref(); // never keeps the event loop alive
      this.socket.on("error", () => {});
    } catch {
      this.socket = null;
    }
  }

  metric(name, value, options = {}) {
    let event;
    try {
      event = p.metricEvent(name, value, options);
    } catch {
      return this.#tally(false, 1);
    }
    return this.#send(p.metricLine(event));
  }

  rateLimit(rule, outcome, options = {}) {
    let line;
    try {
      line = p.rateLimitLine(rule, outcome, options);
    } catch {
      return this.#tally(false, 1);
    }
    return this.#send(line);
  }

  connectionOpened() {
    return this.#send('{"v":1,"type":"connection","event":"opened"}');
  }

  connectionClosed() {
    return this.#send('{"v":1,"type":"connection","event":"closed"}');
  }

  message(bytes = 0) {
    const size = Number.isSafeInteger(bytes) && bytes > 0 ? bytes : 0;
    return this.#send(`{"v":1,"type":"connection","event":"message","bytes":${size}}`);
  }

  /**
   * A span timing part of the handler, in the invocation's trace (`_X_AMZN_TRACE_ID`),
   * under `options.parent` if given; sent by `end()`.
   */
  span(name, options = {}) {
    return new Span(this, name, options);
  }

  /** Sends a finished span's line; false if refused or not sent. */
  sendSpan(span) {
    let line;
    try {
      line = p.spanLine(span);
    } catch {
      return this.#tally(false, 1);
    }
    return this.#send(line);
  }

  /** A new aggregate; call `flush()` (or use `wrap`) when the handler ends. */
  aggregate() {
    return new Aggregate(this);
  }

  /**
   * Wraps a handler: its calls on `metrics` (the aggregate passed as a third argument)
   * are folded and sent when it returns, throws or its promise settles.
   */
  wrap(handler) {
    return async (event, context) => {
      const metrics = this.aggregate();
      try {
        return await handler(event, context, metrics);
      } finally {
        await metrics.flush();
      }
    };
  }

  /** Closes the socket; later calls count as failed. */
  close() {
    if (this.socket) {
      this.socket.close();
      this.socket = null;
    }
  }

  #send(line) {
    const data = Buffer.from(line);
    if (!this.socket || data.length > p.MAX_DATAGRAM_BYTES) return this.#tally(false, 1);
    try {
      this.socket.send(data, this.port, "127.0.0.1");
    } catch {
      return this.#tally(false, 1);
    }
    return this.#tally(true, 1);
  }

  /** Sends `lines` as the next numbered datagram; resolves when the kernel took it. */
  sendNumbered(lines) {
    if (!this.socket) {
      this.#tally(false, lines.length);
      return Promise.resolve(false);
    }
    this.seq += 1;
    const sequence = `{"v":1,"type":"sequence","sender":"${this.sender}","seq":${this.seq},"sent":${this.numberedSent}}`;
    this.numberedSent += lines.length;
    const data = Buffer.from([...lines, sequence].join("\n"));
    return new Promise((resolve) => {
      try {
        this.socket.send(data, this.port, "127.0.0.1", (error) => resolve(this.#tally(!error, lines.length)));
      } catch {
        resolve(this.#tally(false, lines.length));
      }
    });
  }

  #tally(ok, events) {
    if (ok) this.sent += events;
    else this.failed += events;
    return ok;
  }
}

class Aggregate extends Shorthands {
  constructor(client) {
    super();
    this.client = client;
    this.series = new Map();
    this.lines = 0;
    this.bytes = 0;
    this.pending = [];
  }

  get length() {
    return this.lines;
  }

  metric(name, value, options = {}) {
    let event;
    try {
      event = p.metricEvent(name, value, options);
    } catch {
      this.client.failed += 1;
      return false;
    }
    const key = JSON.stringify([event.name, event.unit, event.kind, event.pairs, event.resolution]);
    const lineBytes = Buffer.byteLength(event.name) + event.pairs.reduce((n, [a, b]) => n + a.length + b.length + 6, 0) + 120;
    const known = this.series.get(key);
    if (!known) {
      const state = event.kind === "distribution" ? new Map([[event.value || 0, 1]]) : event.value;
      this.series.set(key, { event, state });
      this.#grow(lineBytes);
    } else if (event.kind === "count") {
      const total = known.state + event.value;
      try {
        p.checkValue(total);
      } catch {
        this.flush();
        return this.metric(name, value, options);
      }
      known.state = total;
    } else if (event.kind === "gauge") {
      known.state = event.value;
    } else {
      const v = event.value || 0; // -0 and 0 are one value
      const seen = known.state.get(v) ?? 0;
      if (seen === p.MAX_COUNT) {
        this.flush();
        return this.metric(name, value, options);
      }
      known.state.set(v, seen + 1);
      if (seen === 0) this.#grow(lineBytes);
    }
    if (this.bytes >= AGGREGATE_FLUSH_BYTES) this.flush();
    return true;
  }

  /** Sends everything folded so far; resolves once the kernel took every datagram. */
  flush() {
    const lines = [];
    for (const { event, state } of this.series.values()) {
      if (event.kind === "distribution") {
        for (const [value, count] of state) lines.push(p.metricLine({ ...event, value }, count));
      } else {
        lines.push(p.metricLine({ ...event, value: state }));
      }
    }
    this.series.clear();
    this.lines = 0;
    this.bytes = 0;
    // Room for the sequence line in every datagram.
    const sends = p.pack(lines, p.RECOMMENDED_DATAGRAM_BYTES - 128).map((group) => this.client.sendNumbered(group));
    return Promise.all(sends).then(() => undefined);
  }

  #grow(lineBytes) {
    this.lines += 1;
    this.bytes += lineBytes;
  }
}

// process.hrtime is monotonic from an arbitrary origin: anchored to the wall clock once.
const HRTIME_AT_EPOCH_OFFSET = process.hrtime.bigint() - BigInt(Date.now()) * 1_000_000n;
const nowNanos = () => process.hrtime.bigint() - HRTIME_AT_EPOCH_OFFSET;

/** A span: set attributes, then `end()` (or `end(error)` when the work failed). */
class Span {
  constructor(client, name, { kind = "internal", attributes, parent } = {}) {
    this.client = client;
    this.name = name;
    this.kind = kind;
    this.attributes = { ...(attributes ?? {}) };
    this.spanId = crypto.randomBytes(8).toString("hex");
    if (parent instanceof Span) {
      this.traceId = parent.traceId;
      this.parentSpanId = parent.spanId;
      this.sampled = parent.sampled;
    } else {
      const [root, headerParent, sampled] = p.traceContext(process.env._X_AMZN_TRACE_ID);
      this.traceId = root ?? crypto.randomBytes(16).toString("hex");
      this.parentSpanId = headerParent;
      this.sampled = sampled;
    }
    this.startUnixNano = nowNanos();
    this.error = null;
    this.ended = false;
  }

  setAttribute(key, value) {
    this.attributes[key] = value;
    return this;
  }

  /** Ends and sends the span once; an `error` (Error or message) marks it failed. */
  end(error) {
    if (this.ended) return false;
    this.ended = true;
    if (error != null) this.error = error instanceof Error ? error.message || error.name : String(error);
    this.endUnixNano = nowNanos();
    return this.client.sendSpan(this);
  }
}

module.exports = { AGGREGATE_FLUSH_BYTES, Aggregate, Client, ProtocolError: p.ProtocolError, Span };
