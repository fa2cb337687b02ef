"""Reads every golden line (sdk/testdata/golden/*.jsonl, file order) and prints one answer
per line for sdk/tests/clients_conformance.rs: `OK <line as the Python client writes it>`,
`ERR <field>` when the client refuses it, `SKIP` for what it does not send (other event
types, lines that are not JSON objects). The first line is the client's reserved names."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from liftwatch import _protocol as p  # noqa: E402


def absent(event, key, default):
    value = event.get(key)
    return default if value is None else value


class Duplicate(Exception):
    """A JSON object naming a member twice: a dict in a real call cannot."""


def unique(pairs):
    names = [name for name, _ in pairs]
    if len(set(names)) != len(names):
        raise Duplicate
    return dict(pairs)


def answer(line):
    try:
        # A JSON `-0` is the float -0.0, which Python's int cannot hold.
        event = json.loads(line, object_pairs_hook=unique, parse_int=lambda s: -0.0 if s == "-0" else int(s))
    except Duplicate:
        return "ERR duplicate"
    except ValueError:
        return "SKIP"
    if not isinstance(event, dict) or event.get("v") != 1:
        return "SKIP"
    try:
        if event.get("type") == "metric":
            checked = p.metric_event(
                event.get("name"),
                event.get("value"),
                absent(event, "unit", "None"),
                absent(event, "kind", "distribution"),
                absent(event, "dimensions", {}),
                absent(event, "resolution", 60),
            )
            count = absent(event, "count", 1)
            if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= p.MAX_COUNT:
                raise p.ProtocolError("count", "must be 1-4294967295")
            if count != 1 and checked[3] != "distribution":
                raise p.ProtocolError("count", "above 1 only for a distribution")
            return "OK " + p.metric_line(*checked, count=count)
        if event.get("type") == "ratelimit":
            return "OK " + p.rate_limit_line(
                event.get("rule"),
                event.get("outcome"),
                event.get("window_seconds"),
                event.get("key_class"),
                event.get("limit"),
                event.get("remaining"),
                event.get("window_start"),
            )
    except p.ProtocolError as error:
        return "ERR " + error.field
    except (TypeError, AttributeError):
        return "ERR shape"
    return "SKIP"


def main():
    out = [json.dumps(sorted(p.RESERVED_METRIC_NAMES))]
    golden = Path(sys.argv[1])
    for path in sorted(golden.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").split("\n"):
            if line.strip():
                try:
                    out.append(answer(line))
                except Exception:  # noqa: BLE001 - a line the client cannot even read
                    out.append("SKIP")
    sys.stdout.buffer.write("\n".join(out).encode("utf-8", "surrogatepass") + b"\n")


main()
