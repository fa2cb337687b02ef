"""Unit tests of the Python client against a real UDP socket (run with pytest or
`python3 -m unittest discover -s clients/python/tests`)."""

import json
import os
import socket
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from liftwatch import Client  # noqa: E402
from liftwatch import _protocol as p  # noqa: E402


class Intake:
    def __init__(self):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]

    def datagrams(self):
        out = []
        while True:
            try:
                out.append(self.socket.recv(65_536).decode())
            except socket.timeout:
                return out

    def events(self):
        return [json.loads(line) for d in self.datagrams() for line in d.split("\n")]


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.intake = Intake()
        self.client = Client(self.intake.port)

    def tearDown(self):
        self.client.close()
        self.intake.socket.close()

    def test_each_call_is_one_canonical_datagram(self):
        self.client.count("Orders", 2, dimensions={"Tenant": "acme", "Shop": "x"})
        self.client.timing("Latency", 12.5)
        self.client.gauge("Depth", 4, high_resolution=True)
        self.client.rate_limit("login", "blocked", window_seconds=60, key_class="h07")
        self.client.connection_opened()
        self.client.message(512)
        self.assertEqual(
            self.intake.datagrams(),
            [
                '{"v":1,"type":"metric","name":"Orders","value":2,"unit":"Count","kind":"count","dimensions":{"Shop":"x","Tenant":"acme"}}',
                '{"v":1,"type":"metric","name":"Latency","value":12.5,"unit":"Milliseconds","kind":"distribution"}',
                '{"v":1,"type":"metric","name":"Depth","value":4,"unit":"None","kind":"gauge","resolution":1}',
                '{"v":1,"type":"ratelimit","rule":"login","outcome":"blocked","key_class":"h07","window_seconds":60}',
                '{"v":1,"type":"connection","event":"opened"}',
                '{"v":1,"type":"connection","event":"message","bytes":512}',
            ],
        )
        self.assertEqual((self.client.sent, self.client.failed), (6, 0))

    def test_refused_calls_are_counted_never_raised(self):
        for call in [
            lambda: self.client.count("", 1),
            lambda: self.client.count("Invocations", 1),
            lambda: self.client.count("A", float("nan")),
            lambda: self.client.count("A", "1"),
            lambda: self.client.gauge("A", 1, unit="ms"),
            lambda: self.client.count("A", 1, dimensions={"FunctionName": "f"}),
            lambda: self.client.rate_limit("login", "maybe", window_seconds=60),
        ]:
            self.assertFalse(call())
        self.assertEqual((self.client.sent, self.client.failed), (0, 7))
        self.assertEqual(self.intake.datagrams(), [])

    def test_numbers_are_written_like_the_rust_sdk(self):
        for value, text in [(1, "1"), (-0.0, "-0"), (0.25, "0.25"), (1e-7, "0.0000001"),
                            (1e21, "1000000000000000000000"), (1 / 3, "0.3333333333333333")]:
            self.assertEqual(p.number(float(value)), text)

    def test_an_aggregate_folds_calls_and_sends_numbered_datagrams(self):
        with self.client.aggregate() as metrics:
            for i in range(100_000):
                metrics.count("Items", 1)
                metrics.timing("Latency", i % 10)
                metrics.gauge("Depth", i)
            self.assertEqual(len(metrics), 12)
        events = self.intake.events()
        sequence = [e for e in events if e["type"] == "sequence"]
        self.assertEqual([(s["seq"], s["sent"]) for s in sequence], [(1, 0)])
        metrics = [e for e in events if e["type"] == "metric"]
        by_name = {}
        for e in metrics:
            by_name.setdefault(e["name"], []).append((e["value"], e.get("count", 1)))
        self.assertEqual(by_name["Items"], [(100_000, 1)])
        self.assertEqual(by_name["Depth"], [(99_999, 1)])
        self.assertEqual(sorted(by_name["Latency"]), [(v, 10_000) for v in range(10)])
        self.assertEqual(self.client.sent, 12)

    def test_the_decorator_sends_when_the_handler_returns_or_raises(self):
        @self.client.aggregated
        def handler(event, context, metrics):
            metrics.count("Handled", event["n"])
            if event.get("fail"):
                raise RuntimeError("asked to fail")
            return "ok"

        self.assertEqual(handler({"n": 3}, None), "ok")
        with self.assertRaises(RuntimeError):
            handler({"n": 4, "fail": True}, None)
        values = [e["value"] for e in self.intake.events() if e["type"] == "metric"]
        self.assertEqual(values, [3, 4])

    def test_many_distinct_values_go_out_in_datagrams_within_8_kib(self):
        with self.client.aggregate() as metrics:
            for i in range(800):
                metrics.timing("Latency", i / 8)
        datagrams = self.intake.datagrams()
        self.assertGreater(len(datagrams), 5)
        self.assertTrue(all(len(d.encode()) <= 8_192 for d in datagrams))
        lines = [json.loads(line) for d in datagrams for line in d.split("\n")]
        seqs = [e["seq"] for e in lines if e["type"] == "sequence"]
        self.assertEqual(seqs, list(range(1, len(datagrams) + 1)))
        total = sum(e["value"] for e in lines if e["type"] == "metric")
        self.assertEqual(total, sum(i / 8 for i in range(800)))

    def test_a_client_without_an_extension_never_raises(self):
        client = Client(1)  # nothing listens; sends may fail or vanish, never raise
        client.count("A", 1)
        with client.aggregate() as metrics:
            metrics.count("A", 1)
        self.assertEqual(client.sent + client.failed, 2)
        client.close()


if __name__ == "__main__":
    unittest.main()


class SpanTest(unittest.TestCase):
    def setUp(self):
        self.intake = Intake()
        self.client = Client(self.intake.port)
        self.header = os.environ.get("_X_AMZN_TRACE_ID")
        os.environ["_X_AMZN_TRACE_ID"] = (
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")

    def tearDown(self):
        if self.header is None:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        else:
            os.environ["_X_AMZN_TRACE_ID"] = self.header

    def test_nested_spans_join_the_invocations_trace_and_a_failure_is_kept(self):
        with self.assertRaises(KeyError):
            with self.client.span("checkout", kind="server") as outer:
                with self.client.span("db.query", kind="client", attributes={"rows": 3}) as inner:
                    inner.set_attribute("db.system", "dynamodb")
                raise KeyError("cart")
        inner_event, outer_event = self.intake.events()
        self.assertEqual(inner_event["trace_id"], "5759e988bd862e3fe1be46a994272793")
        self.assertEqual(outer_event["parent_span_id"], "53995c3f42cd8ad8")
        self.assertEqual(inner_event["parent_span_id"], outer.span_id)
        self.assertEqual(inner_event["attributes"], {"db.system": "dynamodb", "rows": 3})
        self.assertEqual((inner_event["kind"], outer_event["kind"]), ("client", "server"))
        self.assertEqual(outer_event["error"], "'cart'")
        self.assertNotIn("error", inner_event)
        self.assertTrue(outer_event["end_unix_nano"] >= inner_event["end_unix_nano"]
                        >= inner_event["start_unix_nano"] >= outer_event["start_unix_nano"])
        self.assertEqual((self.client.sent, self.client.failed), (2, 0))

    def test_a_bad_span_is_counted_not_raised_and_unsampled_traces_say_so(self):
        os.environ["_X_AMZN_TRACE_ID"] = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0"
        with self.client.span("", attributes={"x": object()}):
            pass
        span = self.client.span("manual")
        self.assertTrue(span.end())
        self.assertFalse(span.end(), "sent once")
        (event,) = self.intake.events()
        self.assertEqual((event["name"], event["sampled"]), ("manual", False))
        self.assertNotIn("parent_span_id", event)
        self.assertEqual((self.client.sent, self.client.failed), (1, 1))
