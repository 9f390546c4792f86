"""Decode a captured SKSTACK IP / ECHONET Lite byte stream into JSON Lines.

usage: python tools/decode.py [FILE]        (reads stdin when FILE is absent)

Every item lib/bp35a1.py (LineParser) recognises becomes one JSON object on stdout (nothing else
is written there; diagnostics go to stderr); the parser's text lines are told apart here (echo,
version, appver, info, esreg, pong, ipv6, a bare hex ECHONET frame starting 1081, unparsed).  The
module dialect (BP35A1 / BP35C0-C2) and the ERXUDP data form (hex ASCII / binary) are detected
line by line, so one input may mix them.  ECHONET payloads (UDP port 0E1A, starting 1081) are
decoded with lib/echonet.py and tools/echonet_host.py; once the input has shown the meter's D3
and E1 answers, E0/E3/EA/EB properties also carry "kwh".  Unknown text comes out as
{"type": "unparsed"}; a broken ERXUDP or frame as "frame": null with an "error" (an ERXUDP the
input ends inside as {"type": "erxudp", "frame": null, "error": "truncated ..."}).  Exit status
is 0 whatever the input holds (2 only when FILE cannot be read).
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'lib'))

import echonet  # noqa: E402
import echonet_host  # noqa: E402
from util import hex_upper, is_hex, unhex  # noqa: E402
from bp35a1 import LineParser  # noqa: E402

ECHONET_PORT = 0x0E1A
METER_CLASS = b'\x02\x88'
NODE_CLASS = b'\x0e\xf0'
CONTROLLER_CLASS = b'\x05\xff'
ANSWER_ESVS = (0x72, 0x73, 0x74, 0x52)     # Get_Res, INF, INFC, Get_SNA
GET_SNA = 0x52
KWH_EPCS = (0xE0, 0xE3, 0xEA, 0xEB)
READ_SIZE = 4096
ECHO_WORDS = ('WOPT', 'ROPT', 'WUART', 'RUART')
# the fields of the parser's 'erxudp' items, in order (lib/bp35a1.py)
RX_FIELDS = ('sender', 'dest', 'rport', 'lport', 'sender_lla', 'secured', 'side', 'rssi',
             'length', 'data', 'binary', 'error')


def _hex_or_none(fmt, value):
    return None if value is None else fmt % value


def _int16(text):
    """int of a hex field, None when it is missing or not hex."""
    return int(text, 16) if text and is_hex(text) else None


def _is_ipv6(word):
    # SKLL64 prints the full colon form: 8 groups of 4 hex digits.
    groups = word.split(':')
    return len(word) == 39 and len(groups) == 8 and all(len(g) == 4 and is_hex(g) for g in groups)


class Decoder:
    """Turns the parser's items into JSON-ready dicts; remembers the meter's D3 and E1."""

    def __init__(self):
        self.coefficient = None   # D3 (1 when the meter answers Get_SNA)
        self.unit = None          # E1 multiplier
        self.seen_d3 = False
        self.seen_e1 = False

    # ------------------------------------------------------------ items

    def item(self, it):
        kind = it[0]
        if kind == 'erxudp':
            return self.erxudp(dict(zip(RX_FIELDS, it[1:])))
        if kind == 'text':
            return self.text(it[1])
        if kind == 'event':
            _, code, sender, side, param = it
            return {'type': 'event', 'code': _hex_or_none('%02X', code), 'sender': sender,
                    'side': side, 'param': _hex_or_none('%02X', param)}
        if kind == 'pan':
            f = it[1]
            return {'type': 'pan', 'channel': _int16(f.get('Channel')),
                    'channel_page': _int16(f.get('Channel Page')),
                    'pan_id': _hex_or_none('%04X', _int16(f.get('Pan ID'))), 'addr': f.get('Addr'),
                    'lqi': _int16(f.get('LQI')), 'side': _int16(f.get('Side')),
                    'pair_id': f.get('PairID')}
        if kind == 'OK':
            return {'type': 'ok', 'value': it[1]}
        if kind == 'fail':
            return {'type': 'fail', 'code': it[1]}
        return {'type': 'unparsed', 'line': repr(it)}

    def text(self, line):
        """A line that is not OK/FAIL/EVENT/ERXUDP/EPANDESC: answers, echoes, bare frames."""
        t = line.split()
        w = t[0] if t else ''
        if w == 'EVER' and len(t) == 2:
            return {'type': 'version', 'version': t[1]}
        if w == 'EAPPVER' and len(t) == 2:
            return {'type': 'appver', 'version': t[1]}
        if w == 'EINFO' and len(t) == 6 and is_hex(t[3]) and is_hex(t[4]):
            return {'type': 'info', 'ipv6': t[1], 'mac': t[2], 'channel': int(t[3], 16),
                    'pan_id': '%04X' % int(t[4], 16), 'side': t[5]}
        if w == 'ESREG' and len(t) == 2:
            return {'type': 'esreg', 'value': t[1]}
        if w == 'EPONG' and len(t) == 2:
            return {'type': 'pong', 'sender': t[1]}
        if len(t) == 1 and _is_ipv6(w):
            return {'type': 'ipv6', 'addr': w}
        if w[:2] == 'SK' or w in ECHO_WORDS:
            return {'type': 'echo', 'line': line}       # the parser masked the secrets
        text = line.strip()
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
        out = {'type': 'erxudp'}
        for name in RX_FIELDS[:9]:
            out[name] = it[name]
        if it['error'] or it['data'] is None:
            out['frame'] = None
            out['error'] = it['error'] or 'no data'
            return out
        data = it['data']
        if ECHONET_PORT not in (it['rport'], it['lport']) or data[:2] != b'\x10\x81':
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
        tid, seoj, deoj, esv, props = frame
        eoj = seoj
        if eoj[:2] == CONTROLLER_CLASS:   # a request: its properties are the target's
            eoj = deoj
        cls = bytes(eoj[:2])
        if bytes(seoj[:2]) == METER_CLASS and esv in ANSWER_ESVS:
            self._learn(esv, props)
        out = []
        for epc, edt in props:
            prop = {'epc': '%02X' % epc, 'pdc': len(edt), 'edt': hex_upper(edt)}
            try:
                prop['value'] = self.value(cls, eoj, epc, edt)
            except echonet.EchonetError as e:
                prop['value'] = None
                prop['error'] = str(e) or 'bad EDT'
            if cls == METER_CLASS and epc in KWH_EPCS and 'error' not in prop \
                    and self.seen_d3 and self.seen_e1 and self.unit is not None:
                prop['kwh'] = self.kwh(epc, prop['value'])
            out.append(prop)
        return {'tid': tid, 'seoj': hex_upper(seoj), 'deoj': hex_upper(deoj),
                'esv': '%02X' % esv, 'properties': out}

    def _learn(self, esv, props):
        for epc, edt in props:
            if epc == 0xD3:
                if len(edt) == 0 and esv == GET_SNA:
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
        v = echonet_host.decode(epc, edt, eoj)
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
        sys.stderr.write('decode: %s item: %r\n' % (item[0], e))
        return {'type': item[0] or 'unparsed', 'frame': None, 'error': 'decoder: %r' % (e,)}


def _drain(parser, decoder):
    while True:
        item = parser.next()
        if item is None:
            return
        _emit(_convert(decoder, item))


def run(stream):
    parser = LineParser(size=1 << 16)
    decoder = Decoder()
    read = getattr(stream, 'read1', stream.read)
    seen = False
    while True:
        chunk = read(READ_SIZE)
        if not chunk:
            break
        seen = True
        parser.feed(chunk)
        _drain(parser, decoder)
        sys.stdout.flush()
    if seen:
        # The input has ended: a line end completes a last line that had none and closes an
        # EPANDESC block still open; what the parser still holds is an ERXUDP cut short.
        parser.feed(b'\r\n')
        _drain(parser, decoder)
        if parser.offset < len(parser.buf):
            _emit({'type': 'erxudp', 'frame': None, 'error': 'truncated (the input ended)'})
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
