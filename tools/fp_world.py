"""The world around the device for the heap footprint run (tools/footprint.mjs): the BP35A1 +
meter emulator, a Wi-Fi schedule, NTP, a minimal Ambient server and a minimal MQTT broker.

It runs in CPython, in its own process, so none of its allocations fall into the MicroPython
heap being measured.  footprint.mjs talks to it over two FIFOs, one JSON request per line:
`[method, now_ms, args...]` -> one JSON reply per line.  Time is the caller's: every request
carries the virtual clock's `now_ms`, and the emulator catches up to it.

The scenario (all times in virtual seconds after start) is chosen to touch every bounded
structure of the app once in a day: a Wi-Fi outage long enough to fill the Ambient RAM queue and
spill it to flash (MQTT and NTP down with it), a window in which the meter's answers are lost
(the session rejoins), and a module that hangs until SKRESET (the ladder resets and rescans it).

usage: python tools/fp_world.py REQUEST_FIFO REPLY_FIFO SCENARIO_JSON
"""
import binascii
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(os.path.dirname(HERE), 'lib')]     # bp35emu uses lib/util
bp35emu = None      # imported in main(), once the reply channel is open to report a failure


class Peer:
    """One accepted TCP connection: bytes in from the device, bytes out to it."""

    def __init__(self, kind):
        self.kind = kind
        self.inbuf = bytearray()
        self.out = bytearray()
        self.closed = False      # the server closed after its answer (EOF once out is read)


class World:
    def __init__(self, sc):
        self.sc = sc
        self.t0 = sc['t0']
        self.clock = bp35emu.VirtualClock(self.t0)
        opts = dict(sc.get('options') or {})
        self.emu = bp35emu.Emulator(self.clock, scenario=sc.get('scenario') or None,
                                    seed=sc.get('seed', 1), wall_start=sc['wall_start'],
                                    rbid=sc['rbid'], password=sc['password'], options=opts)
        self.peers = {}
        self.next_id = 1
        self.records = 0            # Ambient records stored
        self.created = set()        # distinct Ambient `created` values
        self.http_requests = 0
        self.mqtt_publishes = 0
        self.mqtt_connects = 0
        self.refused = 0

    # ---- time and schedule --------------------------------------------------------------------

    def at(self, now):
        if now > self.clock.now_ms():
            self.clock.sleep_ms(now - self.clock.now_ms())

    def _down(self, name):
        s = (self.clock.now_ms() - self.t0) // 1000
        for a, b in self.sc.get(name) or ():
            if a <= s < b:
                return True
        return False

    def wifi(self):
        return not self._down('wifi_down')

    def ntp(self):
        """UTC seconds now, or None when NTP cannot be reached."""
        if not self.wifi():
            return None
        return self.emu.wall()

    # ---- UART ---------------------------------------------------------------------------------

    def uart_any(self):
        n = self.emu.uart.any()
        due = self.emu.next_due_ms()
        return [n, -1 if due is None else due]

    def uart_read(self, n):
        data = self.emu.uart.read(n if n and n > 0 else -1)
        return binascii.hexlify(data).decode() if data else None

    def uart_write(self, hexdata):
        return self.emu.uart.write(binascii.unhexlify(hexdata))

    # ---- TCP ----------------------------------------------------------------------------------

    def connect(self, port):
        """A connection id, or an errno (negative) when refused/unreachable."""
        if not self.wifi():
            return -113             # EHOSTUNREACH
        kind = 'mqtt' if port in (1883, 8883) else 'http'
        if self._down(kind + '_down'):
            self.refused += 1
            return -104             # ECONNRESET/refused
        cid = self.next_id
        self.next_id += 1
        self.peers[cid] = Peer(kind)
        return cid

    def send(self, cid, hexdata):
        p = self.peers.get(cid)
        if p is None or p.closed or not self.wifi():
            return -104
        data = binascii.unhexlify(hexdata)
        p.inbuf += data
        if p.kind == 'http':
            self._http(p)
        else:
            self._mqtt(p)
        return len(data)

    def recv(self, cid, n):
        """Hex of up to n bytes; '' at EOF; None when nothing has arrived (would block)."""
        p = self.peers.get(cid)
        if p is None:
            return ''
        if not p.out:
            return '' if p.closed else None
        data = bytes(p.out[:n])
        del p.out[:n]
        return binascii.hexlify(data).decode()

    def close(self, cid):
        self.peers.pop(cid, None)
        return 0

    def _http(self, p):
        buf = bytes(p.inbuf)
        head_end = buf.find(b'\r\n\r\n')
        if head_end < 0:
            return
        length = 0
        for line in buf[:head_end].split(b'\r\n')[1:]:
            k, _, v = line.partition(b':')
            if k.strip().lower() == b'content-length':
                length = int(v.strip())
        body = buf[head_end + 4:]
        if len(body) < length:
            return
        self.http_requests += 1
        doc = json.loads(body[:length])
        data = doc.get('data') if isinstance(doc, dict) else None
        if isinstance(data, list):
            for rec in data:
                self.records += 1
                self.created.add(rec.get('created'))
        p.inbuf = bytearray()
        p.out += b'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nOK'
        p.closed = True

    def _mqtt(self, p):
        buf = p.inbuf
        while len(buf) >= 2:
            mult, size, i = 1, 0, 1
            while True:
                if i >= len(buf):
                    return
                b = buf[i]
                size += (b & 0x7F) * mult
                mult *= 128
                i += 1
                if not b & 0x80:
                    break
            if len(buf) < i + size:
                return
            kind = buf[0] >> 4
            body = bytes(buf[i:i + size])
            del buf[:i + size]
            if kind == 1:           # CONNECT -> CONNACK accepted
                self.mqtt_connects += 1
                p.out += b'\x20\x02\x00\x00'
            elif kind == 3:         # PUBLISH
                self.mqtt_publishes += 1
            elif kind == 8:         # SUBSCRIBE -> SUBACK granted QoS 0
                pid = body[:2]
                p.out += b'\x90\x03' + pid + b'\x00'
            elif kind == 12:        # PINGREQ -> PINGRESP
                p.out += b'\xd0\x00'
            elif kind == 14:        # DISCONNECT
                p.closed = True

    def quit(self):
        return self.stats()

    def stats(self):
        st = dict(self.emu.stats)
        st.update({'ambient_records': self.records, 'ambient_distinct': len(self.created),
                   'http_requests': self.http_requests, 'mqtt_publishes': self.mqtt_publishes,
                   'mqtt_connects': self.mqtt_connects, 'refused': self.refused,
                   'wall': self.emu.wall()})
        return st


def main():
    global bp35emu
    req_path, rep_path, sc_path = sys.argv[1:4]
    req = open(req_path, 'rb')
    rep = open(rep_path, 'wb', buffering=0)
    try:
        import bp35emu
        with open(sc_path) as f:
            world = World(json.load(f))
    except Exception as e:
        rep.write(json.dumps({'e': 'world did not start: %s: %s' % (type(e).__name__, e)}).encode() + b'\n')
        raise
    for line in req:
        msg = json.loads(line)
        method, now, args = msg[0], msg[1], msg[2:]
        world.at(now)
        try:
            result = getattr(world, method)(*args)
            out = json.dumps({'r': result})
        except Exception as e:  # reported to the JS side, which fails the run
            out = json.dumps({'e': '%s: %s' % (type(e).__name__, e)})
        rep.write(out.encode() + b'\n')
        if method == 'quit':
            break


if __name__ == '__main__':
    main()
