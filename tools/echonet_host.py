"""ECHONET Lite decoding beyond what the device needs: identity and node-profile properties.

Host side only (tools/decode.py and tests); the device keeps the lean codec in lib/echonet.py,
whose decode() this module extends with the super-class properties (80 81 82 88 8A 8D 9D 9E 9F)
and the node profile's (0x0EF0: D3 D4 D5 D6 D7 mean other things there).  `decode(epc, edt,
eoj=None)` picks the node-profile table when eoj is a 0x0EF0 object; a wrong-length EDT raises
echonet.EchonetError, PDC 0 and unknown EPCs give None.  Pure functions, no I/O.
"""
import struct

from echonet import EchonetError
import echonet


def unit_multiplier(code):
    """E1 unit code -> kWh per count (1, 0.1, ... 10000), None for an undefined code."""
    return echonet.decode(0xE1, bytes((code,)))


def _need(edt, size):
    if len(edt) != size:
        raise EchonetError('EDT length')


def _u8(edt):
    _need(edt, 1)
    return edt[0]


def _operation(edt):
    return {0x30: 'on', 0x31: 'off'}.get(_u8(edt))


def _fault(edt):
    return {0x41: 'fault', 0x42: 'normal'}.get(_u8(edt))


def _release(edt):
    # 82 (device object): 00 00 <release letter ASCII> <revision>; real: 00004600 = Release F.
    _need(edt, 4)
    return (chr(edt[2]), edt[3])


def _node_version(edt):
    _need(edt, 4)
    return (edt[0], edt[1])


def _maker(edt):
    _need(edt, 3)
    return bytes(edt).hex().upper()


def _text(edt):
    # 8D production number: up to 12 ASCII bytes, NUL padded; non-printables shown as '?'.
    if len(edt) > 12:
        raise EchonetError('EDT length')
    return ''.join(chr(b) if 0x20 <= b < 0x7F else '?' for b in edt if b).strip()


def _property_map(edt):
    # count < 16: count + EPC list; count >= 16: count + 16-byte bitmap, byte i bit b -> 0x80 + 0x10*b + i
    count = edt[0]
    if count < 16:
        _need(edt, 1 + count)
        return [edt[i] for i in range(1, 1 + count)]
    _need(edt, 17)
    return [0x80 + 0x10 * b + i for b in range(8) for i in range(16) if edt[1 + i] & (1 << b)]


def _eoj_list(width):
    def decode_list(edt):
        count = edt[0]
        _need(edt, 1 + width * count)
        return [bytes(edt[1 + width * i:1 + width * (i + 1)]) for i in range(count)]
    return decode_list


def _u16(edt):
    _need(edt, 2)
    return struct.unpack('>H', bytes(edt))[0]


def _u24(edt):
    _need(edt, 3)
    return edt[0] << 16 | edt[1] << 8 | edt[2]


_COMMON = {0x80: _operation, 0x81: _u8, 0x82: _release, 0x88: _fault, 0x8A: _maker, 0x8D: _text,
           0x9D: _property_map, 0x9E: _property_map, 0x9F: _property_map,
           0xD5: _eoj_list(3), 0xD6: _eoj_list(3)}
_NODE = dict(_COMMON)
_NODE.update({0x82: _node_version, 0xD3: _u24, 0xD4: _u16, 0xD7: _eoj_list(2)})
_NODE.pop(0x81)
_NODE.pop(0x8D)


def decode(epc, edt, eoj=None):
    """Value of one property's EDT, meter or node profile (see the module docstring)."""
    if edt is None or len(edt) == 0:
        return None
    if eoj is not None and len(eoj) == 3 and eoj[0] == 0x0E and eoj[1] == 0xF0:
        fn = _NODE.get(epc)
        return None if fn is None else fn(edt)
    fn = _COMMON.get(epc)
    if fn is not None:
        return fn(edt)
    return echonet.decode(epc, edt)
