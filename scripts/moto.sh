#!/usr/bin/env bash
# moto's AWS emulator on 127.0.0.1 for the tests that reach AWS APIs (CloudWatch, DynamoDB).
#
#   scripts/moto.sh start   installs moto[server] into .venv-moto/ if missing, starts
#                           moto_server on a free loopback port in the background, waits
#                           until it answers, writes target/moto.url and target/moto.pid
#   scripts/moto.sh stop    stops the server started by `start`
#   scripts/moto.sh url     prints the running server's URL
#
# Tests read the URL from LIFTWATCH_TEST_MOTO_URL, or from target/moto.url, or run `start`
# themselves (liftwatch_sandbox::moto::moto_url).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-moto
URL_FILE=target/moto.url
PID_FILE=target/moto.pid
LOG_FILE=target/moto.log

running() {
    [[ -f "$PID_FILE" ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null
}

install() {
    if [[ -x "$VENV/bin/moto_server" ]]; then
        return
    fi
    command -v python3 >/dev/null || { echo "python3 is required to run moto" >&2; exit 1; }
    echo "==> installing moto[server] into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check 'moto[server]'
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
    if running && [[ -f "$URL_FILE" ]]; then
        cat "$URL_FILE"
        return
    fi
    install
    mkdir -p target
    local port url pid
    port=$(free_port)
    url="http://127.0.0.1:$port"
    "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$LOG_FILE" 2>&1 &
    pid=$!
    for _ in $(seq 1 100); do
        if curl -sf -o /dev/null -X POST "$url/moto-api/reset"; then
            echo "$pid" >"$PID_FILE"
            echo "$url" >"$URL_FILE"
            echo "$url"
            return
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "moto_server exited; see $LOG_FILE" >&2
            exit 1
        fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    echo "moto_server did not answer within 10 s; see $LOG_FILE" >&2
    exit 1
}

stop() {
    if running; then
        kill "$(cat "$PID_FILE")"
    fi
    rm -f "$PID_FILE" "$URL_FILE"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    url) running && cat "$URL_FILE" || { echo "moto is not running: scripts/moto.sh start" >&2; exit 1; } ;;
    *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
