/** Options every metric call takes. */
export interface MetricOptions {
  /** Dimension name to value (at most 29; `FunctionName` is added by the extension). */
  dimensions?: Record<string, string>;
  /** A CloudWatch unit name, such as "Count", "Milliseconds" or "Bytes". */
  unit?: string;
  /** 1-second storage resolution. */
  highResolution?: boolean;
}

export interface RateLimitOptions {
  windowSeconds: number;
  keyClass?: string;
  limit?: number | bigint;
  remaining?: number | bigint;
  windowStart?: number | bigint;
}

/** Lines an aggregate holds before it sends them early. */
export const AGGREGATE_FLUSH_BYTES: number;

export class ProtocolError extends Error {
  readonly field: string;
  readonly reason: string;
}

/** Metric calls folded in-process; sent by `flush()`. */
export class Aggregate {
  /** Lines a flush would send now. */
  readonly length: number;
  count(name: string, value?: number, options?: MetricOptions): boolean;
  gauge(name: string, value: number, options?: MetricOptions): boolean;
  timing(name: string, millis: number, options?: Omit<MetricOptions, "unit">): boolean;
  metric(name: string, value: number, options?: MetricOptions & { kind?: "count" | "gauge" | "distribution" }): boolean;
  flush(): Promise<void>;
}

export type SpanKind = "internal" | "server" | "client" | "producer" | "consumer";

export interface SpanOptions {
  kind?: SpanKind;
  /** Attribute name to value (at most 64). */
  attributes?: Record<string, string | number | boolean>;
  /** The enclosing span; by default the invocation's trace header's `Parent=`. */
  parent?: Span;
}

/** A span in the invocation's trace; sent by `end()`. */
export class Span {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | null;
  readonly sampled: boolean;
  setAttribute(key: string, value: string | number | boolean): this;
  /** Ends and sends the span once; an error marks it failed. False if refused or not sent. */
  end(error?: unknown): boolean;
}

/** Sends events to the extension on 127.0.0.1 (`LIFTWATCH_PORT`, else 9325). Never throws. */
export class Client {
  constructor(options?: { port?: number });
  readonly port: number;
  /** Events handed to the kernel. */
  readonly sent: number;
  /** Events refused or not sent. */
  readonly failed: number;
  count(name: string, value?: number, options?: MetricOptions): boolean;
  gauge(name: string, value: number, options?: MetricOptions): boolean;
  timing(name: string, millis: number, options?: Omit<MetricOptions, "unit">): boolean;
  metric(name: string, value: number, options?: MetricOptions & { kind?: "count" | "gauge" | "distribution" }): boolean;
  rateLimit(rule: string, outcome: "allowed" | "blocked" | "error", options: RateLimitOptions): boolean;
  connectionOpened(): boolean;
  connectionClosed(): boolean;
  message(bytes?: number): boolean;
  span(name: string, options?: SpanOptions): Span;
  aggregate(): Aggregate;
  wrap<E, C, R>(handler: (event: E, context: C, metrics: Aggregate) => R | Promise<R>): (event: E, context: C) => Promise<R>;
  close(): void;
}
