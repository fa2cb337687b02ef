"use strict";
// A Node.js Lambda handler observed by liftwatch in two ways: the OpenTelemetry JS SDK,
// left at its default OTLP endpoint (http://localhost:4318, the extension's receiver),
// traces the order under the invocation's X-Ray trace and counts it; the liftwatch client
// sends its counts to the extension over UDP. Run by `bootstrap` on aws-lambda-ric.
// Event: {"orders": <int>, "items": <int>}.
const { ROOT_CONTEXT, defaultTextMapGetter, trace } = require("@opentelemetry/api");
const { BasicTracerProvider, BatchSpanProcessor } = require("@opentelemetry/sdk-trace-base");
const { MeterProvider, PeriodicExportingMetricReader } = require("@opentelemetry/sdk-metrics");
const { OTLPTraceExporter } = require("@opentelemetry/exporter-trace-otlp-proto");
const { OTLPMetricExporter } = require("@opentelemetry/exporter-metrics-otlp-proto");
const { AWSXRayPropagator } = require("@opentelemetry/propagator-aws-xray");
const { Client } = require("liftwatch");

// Once per sandbox, in the Init phase.
const tracerProvider = new BasicTracerProvider({
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
});
const meterProvider = new MeterProvider({
  readers: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter() })],
});
const tracer = tracerProvider.getTracer("shop.checkout");
const ordersPlaced = meterProvider
  .getMeter("shop.checkout")
  .createCounter("shop.orders", { unit: "{order}", description: "Orders placed" });
const propagator = new AWSXRayPropagator();
const liftwatch = new Client(); // LIFTWATCH_PORT

exports.handler = async (event) => {
  const orders = Number(event.orders ?? 0);
  const items = Number(event.items ?? 0);
  // The invocation's trace: _X_AMZN_TRACE_ID, set per invocation.
  const carrier = { "x-amzn-trace-id": process.env._X_AMZN_TRACE_ID };
  const invocation = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
  const checkout = tracer.startSpan("checkout", { attributes: { "shop.orders": orders } }, invocation);
  try {
    const charge = tracer.startSpan("charge", {}, trace.setSpan(invocation, checkout));
    ordersPlaced.add(orders, { shop: "x" });
    charge.end();
    liftwatch.count("Orders", orders, { dimensions: { Shop: "x" } });
    const batch = liftwatch.aggregate(); // one datagram when flushed
    for (let i = 0; i < items; i += 1) batch.count("ItemsPacked", 1);
    await batch.flush();
  } finally {
    checkout.end();
    // Export before returning: the sandbox may freeze right after the response.
    await tracerProvider.forceFlush();
    await meterProvider.forceFlush();
  }
  return { orders, items };
};
