#!/bin/sh
# make setup: installs everything the tools and tests need, idempotently, and is a fast no-op when
# nothing changed.  1. .venv with the pinned requirements-dev.txt  2. npm ci of the pinned
# MicroPython WebAssembly VM  3. Debian packages (fonts for the simulator, mosquitto for the MQTT
# tests) when root.
set -eu
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEBS="fonts-dejavu-core mosquitto mosquitto-clients"
status=0

say() { echo "setup: $*" >&2; }

# 1. Python virtual environment
if [ ! -x .venv/bin/python ] || [ ! -f .venv/.installed ] || [ requirements-dev.txt -nt .venv/.installed ]; then
    if ! command -v "$PY" >/dev/null 2>&1; then say "python3 is missing: install Python 3.11 or newer"; exit 1; fi
    say "creating .venv and installing requirements-dev.txt"
    "$PY" -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
    touch .venv/.installed
fi

# 2. Node.js and the MicroPython VM
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    say "node and npm are missing: the MicroPython tests need Node.js 18 or newer (Debian: apt-get install nodejs npm)"
    status=1
elif [ ! -f node_modules/.installed ] || [ package-lock.json -nt node_modules/.installed ]; then
    say "npm ci (MicroPython WebAssembly VM)"
    npm ci --no-audit --no-fund --loglevel=error
    touch node_modules/.installed
fi

# 3. Debian packages
missing=""
if command -v dpkg-query >/dev/null 2>&1; then
    for p in $DEBS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
fi
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        say "installing Debian packages:$missing"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
        # The mosquitto package starts a system broker on port 1883; the tests start their own.
        if command -v systemctl >/dev/null 2>&1; then systemctl disable --now mosquitto >/dev/null 2>&1 || true; fi
    else
        say "missing Debian packages:$missing (run as root: apt-get install -y$missing);"
        say "without them the simulator falls back to a plain font and the MQTT tests are skipped"
        if [ "${CI:-}" = "true" ]; then status=1; fi
    fi
fi
exit $status
