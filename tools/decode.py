"""Decode a captured SKSTACK IP / ECHONET Lite byte stream into JSON Lines.

usage: python tools/decode.py [FILE]        (reads stdin when FILE is absent)

Every item lib/skstack.py recognises becomes one JSON object on stdout (nothing else is written
there; diagnostics go to stderr).  The module dialect (BP35A1 / BP35C0-C2) and the ERXUDP data
form (hex ASCII / binary) are detected line by line, so one input may mix them; a line holding
a bare hex ECHONET frame (starting 1081) is decoded too.  ECHONET payloads (UDP port 0E1A,
starting 1081) are decoded with lib/echonet.py; once the input has shown the meter's D3 and E1
answers, E0/E3/EA/EB properties also carry "kwh".  Unknown text comes out as
{"type": "unparsed"}; a broken ERXUDP or frame as "frame": null with an "error".  Exit status
is 0 whatever the input holds (2 only when FILE cannot be read).
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'lib'))

import echonet  # noqa: E402
from compat import hex_upper, unhex  # noqa: E402
from skstack import LineParser  # noqa: E402

ECHONET_PORT = 0x0E1A
METER_CLASS = b'\x02\x88'
NODE_CLASS = b'\x0e\xf0'
CONTROLLER_CLASS = b'\x05\xff'
ANSWER_ESVS = (echonet.ESV_GET_RES, echonet.ESV_INF, echonet.ESV_INFC, echonet.ESV_GET_SNA)
KWH_EPCS = (0xE0, 0xE3, 0xEA, 0xEB)
READ_SIZE = 4096


def _hex_or_none(fmt, value):
    return None if value is None else fmt % value


class Decoder:
    """Turns skstack Items into JSON-ready dicts; remembers the meter's D3 and E1."""

    def __init__(self):
        self.coefficient = None   # D3 (1 when the meter answers Get_SNA)
        self.unit = None          # E1 multiplier
        self.seen_d3 = False
        self.seen_e1 = False

    # ------------------------------------------------------------ items

    def item(self, it):
        kind = it.kind
        if kind == 'erxudp':
            return self.erxudp(it)
        if kind == 'unparsed':
            return self.unparsed(it.line)
        if kind == 'event':
            return {'type': 'event', 'code': _hex_or_none('%02X', it.code), 'sender': it.sender,
                    'side': it.side, 'param': _hex_or_none('%02X', it.param)}
        if kind == 'pan':
            return {'type': 'pan', 'channel': it.channel, 'channel_page': it.channel_page,
                    'pan_id': _hex_or_none('%04X', it.pan_id), 'addr': it.addr, 'lqi': it.lqi,
                    'side': it.side, 'pair_id': it.pair_id}
        if kind == 'ok':
            return {'type': 'ok', 'value': it.value}
        if kind == 'fail':
            return {'type': 'fail', 'code': it.code}
        if kind == 'version':
            return {'type': 'version', 'version': it.version}
        if kind == 'appver':
            return {'type': 'appver', 'version': it.version}
        if kind == 'info':
            return {'type': 'info', 'ipv6': it.ipv6, 'mac': it.mac, 'channel': it.channel,
                    'pan_id': _hex_or_none('%04X', it.pan_id), 'side': it.side}
        if kind == 'esreg':
            return {'type': 'esreg', 'value': it.value}
        if kind == 'pong':
            return {'type': 'pong', 'sender': it.sender}
        if kind == 'ipv6':
            return {'type': 'ipv6', 'addr': it.addr}
        if kind == 'echo':
            return {'type': 'echo', 'line': it.line}
        if kind == 'edscan':
            return {'type': 'edscan', 'values': [list(v) for v in it.values or []]}
        return {'type': 'unparsed', 'line': it.line}

    def unparsed(self, line):
        text = (line or '').strip()
        if text[:4].upper() == '1081':
            out = {'type': 'frame'}
            try:
                data = unhex(text)
            except ValueError as e:
                out['frame'] = None
                out['error'] = 'bad hex: %s' % e
                return out
            self._frame_into(out, data)
            return out
        return {'type': 'unparsed', 'line': line}

    def erxudp(self, it):
        out = {'type': 'erxudp', 'sender': it.sender, 'dest': it.dest, 'rport': it.rport,
               'lport': it.lport, 'sender_lla': it.sender_lla, 'secured': it.secured,
               'side': it.side, 'rssi': it.rssi, 'length': it.length}
        if it.error or it.data is None:
            out['frame'] = None
            out['error'] = it.error or 'no data'
            return out
        data = it.data
        if ECHONET_PORT not in (it.rport, it.lport) or data[:2] != b'\x10\x81':
            out['frame'] = None        # PANA (02CC) or another protocol: not an error
            return out
        self._frame_into(out, data)
        return out

    # ------------------------------------------------------------ frames

    def _frame_into(self, out, data):
        try:
            frame = echonet.parse(data)
        except echonet.EchonetError as e:
            out['frame'] = None
            out['error'] = str(e) or 'bad frame'
            return
        out['frame'] = self.frame(frame)

    def frame(self, frame):
        eoj = frame.seoj
        if eoj[:2] == CONTROLLER_CLASS:   # a request: its properties are the target's
            eoj = frame.deoj
        cls = bytes(eoj[:2])
        from_meter = bytes(frame.seoj[:2]) == METER_CLASS
        if from_meter and frame.esv in ANSWER_ESVS:
            self._learn(frame)
        props = []
        for epc, edt in frame.props:
            prop = {'epc': '%02X' % epc, 'pdc': len(edt), 'edt': hex_upper(edt)}
            try:
                prop['value'] = self.value(cls, eoj, epc, edt)
            except echonet.EchonetError as e:
                prop['value'] = None
                prop['error'] = str(e) or 'bad EDT'
            if cls == METER_CLASS and epc in KWH_EPCS and 'error' not in prop \
                    and self.seen_d3 and self.seen_e1 and self.unit is not None:
                prop['kwh'] = self.kwh(epc, prop['value'])
            props.append(prop)
        return {'tid': frame.tid, 'seoj': hex_upper(frame.seoj), 'deoj': hex_upper(frame.deoj),
                'esv': '%02X' % frame.esv, 'properties': props}

    def _learn(self, frame):
        for epc, edt in frame.props:
            if epc == 0xD3:
                if len(edt) == 0 and frame.esv == echonet.ESV_GET_SNA:
                    self.coefficient = 1          # no D3 on this meter: use 1
                    self.seen_d3 = True
                elif len(edt) == 4:
                    self.coefficient = echonet.decode(0xD3, edt)
                    self.seen_d3 = True
            elif epc == 0xE1 and len(edt) == 1:
                self.unit = echonet.decode(0xE1, edt)
                self.seen_e1 = True

    def kwh(self, epc, value):
        count = value.get('count') if isinstance(value, dict) else value
        if count is None:
            return None
        return round(echonet.to_kwh(count, self.coefficient, self.unit), 4)

    def value(self, cls, eoj, epc, edt):
        """JSON form of one property's value (None for PDC 0 or an EPC without a decoder)."""
        node = cls == NODE_CLASS
        if cls != METER_CLASS and not node and not 0x80 <= epc <= 0x9F:
            return None                   # another device class: only super-class EPCs
        v = echonet.decode(epc, edt, eoj)
        if v is None:
            return None
        if epc == 0x82:
            if node:
                return {'major': v[0], 'minor': v[1]}
            return {'release': v[0], 'revision': v[1]}
        if epc == 0x97:
            return '%02d:%02d' % tuple(v)
        if epc == 0x98:
            return '%04d-%02d-%02d' % tuple(v)
        if epc in (0x9D, 0x9E, 0x9F):
            return ['%02X' % e for e in v]
        if epc in (0xD5, 0xD6) or (node and epc == 0xD7):
            return [hex_upper(e) for e in v]
        if cls != METER_CLASS:
            return v
        if epc == 0xE8:
            return {'r': v[0], 't': v[1]}
        if epc in (0xEA, 0xEB):
            return {'time': '%04d-%02d-%02d %02d:%02d:%02d' % tuple(v[0]), 'count': v[1]}
        if epc in (0xE2, 0xE4):
            return {'day': v[0], 'counts': list(v[1])}
        return v


def _emit(obj):
    sys.stdout.write(json.dumps(obj) + '\n')


def _convert(decoder, item):
    try:
        return decoder.item(item)
    except Exception as e:  # never crash on one item
        sys.stderr.write('decode: %s item: %r\n' % (item.kind, e))
        return {'type': item.kind or 'unparsed', 'frame': None, 'error': 'decoder: %r' % (e,)}


def run(stream):
    parser = LineParser(max_buffer=1 << 16)
    decoder = Decoder()
    read = getattr(stream, 'read1', stream.read)
    last = b''
    while True:
        chunk = read(READ_SIZE)
        if not chunk:
            break
        last = chunk[-1:]
        parser.feed(chunk)
        while True:
            item = parser.next()
            if item is None:
                break
            _emit(_convert(decoder, item))
        sys.stdout.flush()
    if last and last not in (b'\r', b'\n'):
        parser.feed(b'\r\n')      # the last line had no line end: complete it
    for item in parser.flush():
        _emit(_convert(decoder, item))
    sys.stdout.flush()
    if parser.dropped:
        sys.stderr.write('decode: %d bytes dropped (line longer than the buffer)\n'
                         % parser.dropped)


def main(argv):
    if len(argv) > 1:
        sys.stderr.write('usage: decode.py [FILE]\n')
        return 2
    try:
        if argv and argv[0] != '-':
            with open(argv[0], 'rb') as f:
                run(f)
        else:
            run(sys.stdin.buffer)
    except OSError as e:
        if isinstance(e, BrokenPipeError):
            return 0
        sys.stderr.write('decode: %s\n' % e)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
