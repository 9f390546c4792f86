"""A local Ambient-compatible HTTP server for tests and manual runs (host only, CPython).

It accepts what ambidata.io accepts on `POST /api/v2/channels/{id}/data` (one record) and
`.../dataarray` (`{"writeKey": ..., "data": [records]}`), checks the write key and the JSON shape,
enforces Ambient's limits on an injectable clock (the simulation clock: a callable returning unix
milliseconds): requests at least 5 s apart and 3,000 records per channel per day, and records
what it stored (with `created`), how many distinct records and how many duplicates (same created
and same fields).  It can fail on command, on a schedule on that clock: refuse connections, time
out (accept, read, never answer), answer an HTTP error, or store and then drop the connection
without answering (the ambiguous case a client must handle).

Answers (this server's choices where Ambient documents none): 200 "OK" stored; 400 bad JSON or
shape; 403 wrong write key (or read key); 404 unknown path or channel; 411/413 body length;
429 a request within 5 s of the previous stored one, or one that would pass the daily limit.
A `created` string ("YYYY-MM-DD HH:mm:ss[.sss]") is taken as UTC here; no `created` means "now".
The write key is never printed.

API: AmbientServer(channel_id, write_key, clock=None, schedule=None, ...); .start() -> port;
.stop(); .sync(); .records; .stats(); .requests; .set_mode(mode); SimClock for tests.
CLI:  python tools/ambient_server.py --channel 1 --write-key KEY [--port 0] [--fail 30:60:refuse]
"""
import argparse
import http.server
import json
import re
import select
import signal
import socket
import struct
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

DAY_MS = 86400 * 1000
MAX_BODY = 1 << 20
FIELDS = ("d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8")
OPTIONAL = ("lat", "lng", "cmnt", "created")
# Fault modes.  An int (or a numeric string) means: answer with that HTTP status, store nothing.
MODES = ("refuse", "timeout", "drop", "store_drop", "store_hold")
_PATH = re.compile(r"^/api/v2/channels/([^/]+)/(data|dataarray)/?$")
_CREATED = re.compile(r"^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(\.\d{1,3})?$")


class ShapeError(ValueError):
    pass


def real_clock():
    return int(time.time() * 1000)


class SimClock:
    """Simulated time for host tests, shared by the server (call it: unix ms) and the device code
    (ticks_ms/ticks_diff/ticks_add/sleep_ms).  Time moves only by advance() or sleep_ms()."""

    def __init__(self, start_ms=1704067200000):
        self.start_ms = start_ms
        self.t = 0

    def __call__(self):
        return self.start_ms + self.t

    def now_ms(self):
        return self.start_ms + self.t

    def advance(self, ms):
        self.t += int(ms)

    def ticks_ms(self):
        return self.t

    def ticks_diff(self, a, b):
        return a - b

    def ticks_add(self, a, d):
        return a + d

    def sleep_ms(self, ms):
        self.advance(ms)


def parse_mode(mode):
    if mode is None:
        return None
    if isinstance(mode, int) and not isinstance(mode, bool):
        if 100 <= mode <= 599:
            return mode
    elif isinstance(mode, str):
        if mode.isdigit():
            return parse_mode(int(mode))
        if mode in MODES:
            return mode
    raise ValueError("unknown fault mode %r (one of %s or an HTTP status)" % (mode, ", ".join(MODES)))


def _days_from_civil(y, m, d):
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def created_ms(value):
    """Ambient's `created`: int milliseconds, or 'YYYY-MM-DD HH:mm:ss[.sss]' (taken as UTC)."""
    if isinstance(value, bool):
        raise ShapeError("created is a bool")
    if isinstance(value, int):
        if value < 0:
            raise ShapeError("created is negative")
        return value
    if isinstance(value, str):
        m = _CREATED.match(value)
        if not m:
            raise ShapeError("created string is not YYYY-MM-DD HH:mm:ss.sss")
        y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
        frac = m.group(7)
        ms = int((frac[1:] + "00")[:3]) if frac else 0
        if not (1 <= mo <= 12 and 1 <= d <= 31 and h < 24 and mi < 60 and s < 60):
            raise ShapeError("created string out of range")
        return ((_days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + s * 1000 + ms
    raise ShapeError("created must be int ms or a date string")


def check_record(obj, now_ms, top_level=False):
    """One record -> normalised dict with int `created`; ShapeError when Ambient would refuse it."""
    if not isinstance(obj, dict):
        raise ShapeError("record is not an object")
    out = {}
    for key, value in obj.items():
        if top_level and key == "writeKey":
            continue
        if key in FIELDS or key in ("lat", "lng"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ShapeError("%s is not a number" % key)
            if value != value or value in (float("inf"), float("-inf")):
                raise ShapeError("%s is not finite" % key)
            out[key] = value
        elif key == "cmnt":
            if not isinstance(value, str):
                raise ShapeError("cmnt is not a string")
            out[key] = value
        elif key == "created":
            out[key] = created_ms(value)
        else:
            raise ShapeError("unknown key %r" % key)
    if not any(k in out for k in FIELDS):
        raise ShapeError("no d1..d8")
    out.setdefault("created", now_ms)
    return out


def record_key(rec):
    return (rec["created"], tuple(sorted((k, repr(v)) for k, v in rec.items() if k != "created")))


class _Handler(http.server.BaseHTTPRequestHandler):
    server_version = "AmbientLocal/1"
    protocol_version = "HTTP/1.0"
    timeout = 10   # a client that stalls mid-request is dropped after this (real seconds)

    def log_message(self, fmt, *args):   # quiet; the request line carries no key (GET read keys
        pass                             # would): the CLI prints its own lines

    def do_POST(self):
        self.server._post(self)

    def do_GET(self):
        self.server._get(self)

    def answer(self, status, text="", ctype="text/plain"):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True


class AmbientServer:
    """AmbientServer(channel_id, write_key, clock=None, schedule=None, t0_ms=None, read_key=None,
    daily_limit=3000, min_interval_ms=5000, day_offset_s=0, hold_s=30, host='127.0.0.1', port=0,
    verbose=False)

    clock: callable -> unix ms (default: real time).  schedule: [(start_s, end_s, mode), ...] in
    seconds of that clock after t0_ms (default: the clock when constructed); mode is 'refuse',
    'timeout' (read the request, never answer, hold the connection until the client gives up or
    hold_s real seconds), 'drop' (read, close without answer, store nothing), 'store_drop' (store
    it, then close without answer), 'store_hold' (store it, then hold), or an HTTP status to
    answer (e.g. 500).  The day for daily_limit starts at midnight UTC + day_offset_s.
    Refusal closes the listening socket, so it follows the clock only when sync() runs: a
    background thread calls it every few ms; tests call it after moving a simulated clock.
    """

    def __init__(self, channel_id, write_key, clock=None, schedule=None, t0_ms=None, read_key=None,
                 daily_limit=3000, min_interval_ms=5000, day_offset_s=0, hold_s=30,
                 host="127.0.0.1", port=0, verbose=False):
        self.channel_id = str(channel_id)
        self._write_key = write_key
        self._read_key = read_key
        self.clock = clock or real_clock
        self.t0_ms = self.clock() if t0_ms is None else t0_ms
        self.schedule = []
        for start, end, mode in schedule or ():
            self.add_fault(start, end, mode)
        self.daily_limit = daily_limit
        self.min_interval_ms = min_interval_ms
        self.day_offset_ms = int(day_offset_s * 1000)
        self.hold_s = hold_s
        self.host = host
        self.port = port
        self.verbose = verbose
        self.records = []          # stored records (dicts with int created), in arrival order
        self.requests = []         # (clock ms, path kind, outcome, records in request)
        self._keys = {}            # record_key -> times stored
        self._per_day = {}         # day index -> records stored
        self._last_stored_ms = None
        self._forced = None
        self._counts = {"requests": 0, "rejected_key": 0, "rejected_shape": 0, "rejected_rate": 0,
                        "rejected_daily": 0, "not_found": 0, "refusals": 0}
        self._injected = {}
        self._lock = threading.Lock()
        self._listen_lock = threading.Lock()
        self._listener = None
        self._running = False
        self._stopping = threading.Event()
        self._thread = None
        self._workers = []

    # -- control -----------------------------------------------------------------------------

    def add_fault(self, start_s, end_s, mode):
        self.schedule.append((float(start_s), float(end_s), parse_mode(mode)))

    def set_mode(self, mode):
        """Force a mode now, whatever the schedule says (None: back to the schedule)."""
        self._forced = parse_mode(mode)
        self.sync()

    def mode_at(self, now_ms=None):
        if self._forced is not None:
            return self._forced
        now_ms = self.clock() if now_ms is None else now_ms
        s = (now_ms - self.t0_ms) / 1000.0
        for start, end, mode in self.schedule:
            if start <= s < end:
                return mode
        return None

    def start(self):
        """Listen (port 0: a free one) and serve in background threads; -> port."""
        self._running = True
        self._stopping.clear()
        with self._listen_lock:
            self._open()
        if self.mode_at() == "refuse":
            self.sync()
        self._thread = threading.Thread(target=self._accept_loop, name="ambient-server", daemon=True)
        self._thread.start()
        return self.port

    def stop(self):
        self._running = False
        self._stopping.set()
        with self._listen_lock:
            self._close()
        if self._thread is not None:
            self._thread.join(2)
        for t in list(self._workers):
            t.join(2)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def sync(self):
        """Open or close the listening socket to match the mode at the clock's current time."""
        with self._listen_lock:
            if not self._running:
                return
            refuse = self.mode_at() == "refuse"
            if refuse and self._listener is not None:
                self._close()
                self._counts["refusals"] += 1
            elif not refuse and self._listener is None:
                try:
                    self._open()
                except OSError:
                    pass        # the port is busy for a moment: next sync

    def _open(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((self.host, self.port))
            s.listen(32)
        except OSError:
            s.close()
            raise
        self.port = s.getsockname()[1]
        self._listener = s

    def _close(self):
        if self._listener is not None:
            # shutdown() first: a listener that another thread is select()ing on would otherwise
            # keep completing handshakes until that select returns (Linux).
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                self._listener.close()
            except OSError:
                pass
            self._listener = None

    def _accept_loop(self):
        while self._running:
            self.sync()
            with self._listen_lock:
                ls = self._listener
            if ls is None:
                time.sleep(0.003)
                continue
            try:
                ready = select.select([ls], [], [], 0.005)[0]
                if not ready:
                    continue
                conn, addr = ls.accept()
            except (OSError, ValueError):
                continue        # closed under us by sync()
            if self.mode_at() == "refuse":    # raced a window start: reset, as close as we get
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                continue
            t = threading.Thread(target=self._serve, args=(conn, addr), daemon=True)
            self._workers = [w for w in self._workers if w.is_alive()]
            self._workers.append(t)
            t.start()

    def _serve(self, conn, addr):
        try:
            _Handler(conn, addr, self)
        except Exception:
            pass
        finally:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    # -- requests -----------------------------------------------------------------------------

    def _note(self, now, kind, outcome, n):
        with self._lock:
            self.requests.append((now, kind, outcome, n))
        if self.verbose:
            print("ambient-server: %s %s -> %s (%d records)" % (time.strftime("%H:%M:%S"), kind, outcome, n),
                  flush=True)

    def _hold(self, handler):
        conn = handler.connection
        deadline = time.monotonic() + self.hold_s
        conn.settimeout(0.02)
        while not self._stopping.is_set() and time.monotonic() < deadline:
            try:
                if not conn.recv(1024):
                    break          # the client gave up
            except socket.timeout:
                continue
            except OSError:
                break
        handler.close_connection = True

    def _post(self, h):
        now = self.clock()
        with self._lock:
            self._counts["requests"] += 1
        m = _PATH.match(urlsplit(h.path).path)
        try:
            length = int(h.headers.get("Content-Length", ""))
        except ValueError:
            length = -1
        if length < 0:
            self._note(now, "?", 411, 0)
            return h.answer(411, "Content-Length required")
        if length > MAX_BODY:
            self._note(now, "?", 413, 0)
            return h.answer(413, "too large")
        body = h.rfile.read(length)
        mode = self.mode_at(now)
        if mode in ("timeout", "drop") or isinstance(mode, int):
            with self._lock:
                self._injected[mode] = self._injected.get(mode, 0) + 1
            self._note(now, m.group(2) if m else "?", mode, 0)
            if mode == "timeout":
                return self._hold(h)
            if mode == "drop":
                h.close_connection = True
                return None
            return h.answer(mode, "injected failure")
        status, text, n = self._accept(m, h.headers.get("Content-Type", ""), body, now)
        if mode in ("store_drop", "store_hold"):
            with self._lock:
                self._injected[mode] = self._injected.get(mode, 0) + 1
            self._note(now, m.group(2) if m else "?", "%s/%d" % (mode, status), n)
            if mode == "store_hold":
                return self._hold(h)
            h.close_connection = True
            return None
        self._note(now, m.group(2) if m else "?", status, n)
        return h.answer(status, text)

    def _accept(self, m, ctype, body, now):
        """Validate and store; -> (status, text, records stored)."""
        if m is None or m.group(1) != self.channel_id:
            with self._lock:
                self._counts["not_found"] += 1
            return 404, "no such channel", 0
        try:
            if "json" not in ctype.lower():
                raise ShapeError("Content-Type must be application/json")
            try:
                doc = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError) as e:
                raise ShapeError("bad JSON") from e
            if not isinstance(doc, dict):
                raise ShapeError("body is not an object")
            key = doc.get("writeKey")
        except ShapeError as e:
            with self._lock:
                self._counts["rejected_shape"] += 1
            return 400, str(e), 0
        if not isinstance(key, str) or key != self._write_key:
            with self._lock:
                self._counts["rejected_key"] += 1
            return 403, "bad write key", 0
        try:
            if m.group(2) == "data":
                recs = [check_record(doc, now, top_level=True)]
            else:
                if set(doc) - {"writeKey", "data"}:
                    raise ShapeError("unknown top-level key")
                data = doc.get("data")
                if not isinstance(data, list) or not data:
                    raise ShapeError("data must be a non-empty array")
                recs = [check_record(r, now) for r in data]
        except ShapeError as e:
            with self._lock:
                self._counts["rejected_shape"] += 1
            return 400, str(e), 0
        with self._lock:
            if self._last_stored_ms is not None and now - self._last_stored_ms < self.min_interval_ms:
                self._counts["rejected_rate"] += 1
                return 429, "less than %d ms after the previous request" % self.min_interval_ms, 0
            day = (now + self.day_offset_ms) // DAY_MS
            if self._per_day.get(day, 0) + len(recs) > self.daily_limit:
                self._counts["rejected_daily"] += 1
                return 429, "daily limit of %d records" % self.daily_limit, 0
            self._per_day[day] = self._per_day.get(day, 0) + len(recs)
            self._last_stored_ms = now
            for r in recs:
                k = record_key(r)
                self._keys[k] = self._keys.get(k, 0) + 1
                self.records.append(r)
        return 200, "OK", len(recs)

    def _get(self, h):
        """GET /api/v2/channels/{id}/data?readKey=...&n=N: the newest N records (manual use)."""
        parts = urlsplit(h.path)
        m = _PATH.match(parts.path)
        if m is None or m.group(1) != self.channel_id or m.group(2) != "data":
            return h.answer(404, "no such channel")
        q = parse_qs(parts.query)
        if self._read_key is not None and q.get("readKey", [None])[0] != self._read_key:
            return h.answer(403, "bad read key")
        try:
            n = max(1, min(10000, int(q.get("n", ["1"])[0])))
        except ValueError:
            n = 1
        with self._lock:
            newest = list(reversed(self.records[-n:]))
        return h.answer(200, json.dumps(newest), "application/json")

    # -- results ------------------------------------------------------------------------------

    def created_list(self):
        with self._lock:
            return [r["created"] for r in self.records]

    def stats(self):
        with self._lock:
            out = dict(self._counts)
            out["stored"] = len(self.records)
            out["distinct"] = len(self._keys)
            out["duplicates"] = len(self.records) - len(self._keys)
            out["injected"] = dict(self._injected)
            out["per_day"] = dict(self._per_day)
        return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="Local Ambient-compatible server (loopback).")
    ap.add_argument("--channel", default="1", help="channel id (default 1)")
    ap.add_argument("--write-key", required=True, help="write key the client must send")
    ap.add_argument("--read-key", default=None, help="read key for GET .../data (default: none needed)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 = a free port (printed)")
    ap.add_argument("--daily-limit", type=int, default=3000)
    ap.add_argument("--day-offset", type=int, default=0, help="seconds east of UTC where the day starts")
    ap.add_argument("--fail", action="append", default=[], metavar="START:END:MODE",
                    help="fault window in seconds after start; MODE: %s or an HTTP status" % ", ".join(MODES))
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    schedule = []
    for item in args.fail:
        try:
            start, end, mode = item.split(":", 2)
            schedule.append((float(start), float(end), parse_mode(mode)))
        except ValueError as e:
            ap.error("--fail %s: %s" % (item, e))
    server = AmbientServer(args.channel, args.write_key, schedule=schedule, read_key=args.read_key,
                           daily_limit=args.daily_limit, day_offset_s=args.day_offset, host=args.host,
                           port=args.port, verbose=not args.quiet)
    port = server.start()

    def _term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    print("ambient-server: channel %s on http://%s:%d (url for Ambient(..., url=...))"
          % (args.channel, args.host, port), flush=True)
    try:
        while True:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        print("ambient-server: %s" % json.dumps(server.stats(), sort_keys=True), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
