"""A Python Lambda handler observed by liftwatch in two ways: the OpenTelemetry SDK, left at
its default OTLP endpoint (http://localhost:4318, the extension's receiver), traces the
order under the invocation's X-Ray trace and counts it; the liftwatch client sends its
counts to the extension over UDP. Run by `bootstrap` on awslambdaric.

Event: {"orders": <int>, "items": <int>}.
"""


from liftwatch import Client
from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.propagators.aws import AwsXRayLambdaPropagator
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

# Once per sandbox, in the Init phase.
tracer_provider = TracerProvider()
tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
meter_provider = MeterProvider(metric_readers=[PeriodicExportingMetricReader(OTLPMetricExporter())])
trace.set_tracer_provider(tracer_provider)
metrics.set_meter_provider(meter_provider)

tracer = trace.get_tracer("shop.checkout")
orders_placed = metrics.get_meter("shop.checkout").create_counter(
    "shop.orders", unit="{order}", description="Orders placed")
propagator = AwsXRayLambdaPropagator()  # reads _X_AMZN_TRACE_ID, set per invocation
liftwatch = Client()  # LIFTWATCH_PORT


def handler(event, context):
    orders, items = int(event.get("orders", 0)), int(event.get("items", 0))
    try:
        with tracer.start_as_current_span("checkout", context=propagator.extract({})) as span:
            span.set_attribute("shop.orders", orders)
            with tracer.start_as_current_span("charge"):
                orders_placed.add(orders, {"shop": "x"})
            liftwatch.count("Orders", orders, dimensions={"Shop": "x"})
            with liftwatch.aggregate() as batch:  # one datagram when the block ends
                for _ in range(items):
                    batch.count("ItemsPacked", 1)
    finally:
        # Export before returning: the sandbox may freeze right after the response.
        tracer_provider.force_flush()
        meter_provider.force_flush()
    return {"orders": orders, "items": items}
