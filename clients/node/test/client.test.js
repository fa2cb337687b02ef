"use strict";
// Unit tests of the Node client against a real UDP socket: `node --test clients/node/test/`.
const test = require("node:test");
const assert = require("node:assert/strict");
const dgram = require("node:dgram");
const { Client } = require("../index.js");
const p = require("../protocol.js");

async function intake() {
  const socket = dgram.createSocket("udp4");
  const datagrams = [];
  socket.on("message", (msg) => datagrams.push(msg.toString()));
  await new Promise((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const settle = () => new Promise((resolve) => setTimeout(resolve, 150));
  return { socket, datagrams, port: socket.address().port, settle };
}

test("each call is one canonical datagram", async () => {
  const box = await intake();
  const client = new Client({ port: box.port });
  client.count("Orders", 2, { dimensions: { Tenant: "acme", Shop: "x" } });
  client.timing("Latency", 12.5);
  client.gauge("Depth", 4, { highResolution: true });
  client.rateLimit("login", "blocked", { windowSeconds: 60, keyClass: "h07" });
  client.connectionOpened();
  client.message(512);
  await box.settle();
  assert.deepEqual(box.datagrams, [
    '{"v":1,"type":"metric","name":"Orders","value":2,"unit":"Count","kind":"count","dimensions":{"Shop":"x","Tenant":"acme"}}',
    '{"v":1,"type":"metric","name":"Latency","value":12.5,"unit":"Milliseconds","kind":"distribution"}',
    '{"v":1,"type":"metric","name":"Depth","value":4,"unit":"None","kind":"gauge","resolution":1}',
    '{"v":1,"type":"ratelimit","rule":"login","outcome":"blocked","key_class":"h07","window_seconds":60}',
    '{"v":1,"type":"connection","event":"opened"}',
    '{"v":1,"type":"connection","event":"message","bytes":512}',
  ]);
  assert.deepEqual([client.sent, client.failed], [6, 0]);
  client.close();
  box.socket.close();
});

test("refused calls are counted, never thrown", async () => {
  const box = await intake();
  const client = new Client({ port: box.port });
  const calls = [
    () => client.count("", 1),
    () => client.count("Invocations", 1),
    () => client.count("A", Number.NaN),
    () => client.count("A", "1"),
    () => client.gauge("A", 1, { unit: "ms" }),
    () => client.count("A", 1, { dimensions: { FunctionName: "f" } }),
    () => client.rateLimit("login", "maybe", { windowSeconds: 60 }),
  ];
  for (const call of calls) assert.equal(call(), false);
  await box.settle();
  assert.deepEqual([client.sent, client.failed, box.datagrams.length], [0, 7, 0]);
  client.close();
  box.socket.close();
});

test("numbers are written like the Rust SDK", () => {
  const cases = [[1, "1"], [-0, "-0"], [0.25, "0.25"], [1e-7, "0.0000001"], [1e21, "1000000000000000000000"], [1 / 3, "0.3333333333333333"], [-1.5e-10, "-0.00000000015"]];
  for (const [value, text] of cases) assert.equal(p.number(value), text);
});

test("a wrapped handler folds its calls and sends numbered datagrams when it ends", async () => {
  const box = await intake();
  const client = new Client({ port: box.port });
  const handler = client.wrap(async (event, _context, metrics) => {
    for (let i = 0; i < 100000; i += 1) {
      metrics.count("Items", 1);
      metrics.timing("Latency", i % 10);
      metrics.gauge("Depth", i);
    }
    if (event.fail) throw new Error("asked to fail");
    return "ok";
  });
  assert.equal(await handler({}, {}), "ok");
  await assert.rejects(handler({ fail: true }, {}), /asked to fail/);
  await box.settle();
  const events = box.datagrams.flatMap((d) => d.split("\n").map((l) => JSON.parse(l)));
  const seqs = events.filter((e) => e.type === "sequence").map((e) => [e.seq, e.sent]);
  assert.deepEqual(seqs, [[1, 0], [2, 12]]);
  const items = events.filter((e) => e.name === "Items").map((e) => e.value);
  assert.deepEqual(items, [100000, 100000]);
  const latency = events.filter((e) => e.name === "Latency");
  assert.equal(latency.length, 20);
  assert.ok(latency.every((e) => e.count === 10000));
  assert.equal(client.sent, 24);
  client.close();
  box.socket.close();
});

test("many distinct values go out in datagrams within 8 KiB", async () => {
  const box = await intake();
  const client = new Client({ port: box.port });
  const metrics = client.aggregate();
  for (let i = 0; i < 800; i += 1) metrics.timing("Latency", i / 8);
  await metrics.flush();
  await box.settle();
  assert.ok(box.datagrams.length > 5);
  assert.ok(box.datagrams.every((d) => Buffer.byteLength(d) <= 8192));
  const lines = box.datagrams.flatMap((d) => d.split("\n").map((l) => JSON.parse(l)));
  const total = lines.filter((e) => e.type === "metric").reduce((n, e) => n + e.value, 0);
  let expected = 0;
  for (let i = 0; i < 800; i += 1) expected += i / 8;
  assert.equal(total, expected);
  client.close();
  box.socket.close();
});

test("spans join the invocation's trace, nest under a parent and carry a failure", async () => {
  const box = await intake();
  const client = new Client({ port: box.port });
  const saved = process.env._X_AMZN_TRACE_ID;
  process.env._X_AMZN_TRACE_ID = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
  const outer = client.span("checkout", { kind: "server" });
  const inner = client.span("db.query", { kind: "client", parent: outer, attributes: { rows: 3 } });
  inner.setAttribute("db.system", "dynamodb");
  assert.equal(inner.end(), true);
  assert.equal(inner.end(), false, "sent once");
  outer.end(new Error("card declined"));
  assert.equal(client.span("", { attributes: { bad: {} } }).end(), false);
  await box.settle();
  const [i, o] = box.datagrams.map((d) => JSON.parse(d));
  assert.equal(i.trace_id, "5759e988bd862e3fe1be46a994272793");
  assert.equal(o.parent_span_id, "53995c3f42cd8ad8");
  assert.equal(i.parent_span_id, outer.spanId);
  assert.deepEqual(i.attributes, { "db.system": "dynamodb", rows: 3 });
  assert.equal(o.error, "card declined");
  assert.ok(BigInt(i.end_unix_nano) >= BigInt(i.start_unix_nano));
  assert.match(box.datagrams[0], /^\{"attributes":\{"db.system":"dynamodb","rows":3\},"end_unix_nano":\d+,"kind":"client"/);
  assert.deepEqual([client.sent, client.failed], [2, 1]);
  if (saved === undefined) delete process.env._X_AMZN_TRACE_ID;
  else process.env._X_AMZN_TRACE_ID = saved;
  client.close();
  box.socket.close();
});
