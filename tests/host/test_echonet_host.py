"""tools/echonet_host.py: the identity and node-profile properties the device does not decode."""
import pytest

import echonet_host as eh
from util import unhex
from echonet import EchonetError


def test_decode_identity_properties():
    assert eh.decode(0x80, b'\x30') == 'on'
    assert eh.decode(0x80, b'\x31') == 'off'
    assert eh.decode(0x81, b'\x2a') == 0x2A
    assert eh.decode(0x82, unhex('00004600')) == ('F', 0)
    assert eh.decode(0x82, unhex('00005001')) == ('P', 1)
    assert eh.decode(0x88, b'\x42') == 'normal'
    assert eh.decode(0x88, b'\x41') == 'fault'
    assert eh.decode(0x8A, unhex('000016')) == '000016'
    assert eh.decode(0x8D, b'\x00\x00\x00\x00A1B2C3D4') == 'A1B2C3D4'
    assert eh.decode(0x8D, b'SN12345\x00\x00\x00\x00\x00') == 'SN12345'
    assert eh.decode(0x8D, b'AB\x01C') == 'AB?C'


def test_meter_properties_come_from_the_device_codec():
    assert eh.decode(0xE7, unhex('0000029C')) == 668
    assert eh.decode(0x97, b'\x14\x1e') == (20, 30)
    assert eh.decode(0xE7, b'') is None


def test_property_map_list_form():
    # Set map of a real meter: 81, E5, ED (vector notes, T-V35).
    assert eh.decode(0x9E, unhex('0381E5ED')) == [0x81, 0xE5, 0xED]
    assert eh.decode(0x9D, unhex('00')) == []
    assert eh.decode(0x9D, unhex('0380E7EA')) == [0x80, 0xE7, 0xEA]


def test_property_map_bitmap_form():
    get_map = [0x80, 0x81, 0x82, 0x88, 0x8A, 0x8D, 0x97, 0x98, 0x9D, 0x9E, 0x9F,
               0xD3, 0xD7, 0xE0, 0xE1, 0xE2, 0xE5, 0xE7, 0xE8, 0xEA]
    edt = unhex('1441414120004000624300410000030202')
    assert eh.decode(0x9F, edt) == get_map
    one = bytearray(17)
    one[0] = 16
    one[1 + 7] = 0x40
    assert eh.decode(0x9F, one) == [0xE7]
    one[1 + 7] = 0
    one[1 + 15] = 0x80
    assert eh.decode(0x9F, one) == [0xFF]
    one[1 + 0] = 0x01
    assert eh.decode(0x9F, one) == [0x80, 0xFF]


def test_node_profile_context():
    # D3 means "number of instances" (3 bytes) on the node profile, "coefficient" on the meter.
    assert eh.decode(0xD3, unhex('000001'), b'\x0e\xf0\x01') == 1
    with pytest.raises(EchonetError):
        eh.decode(0xD3, unhex('000001'))
    assert eh.decode(0xD7, unhex('010288'), b'\x0e\xf0\x01') == [b'\x02\x88']
    assert eh.decode(0xD6, unhex('01028801'), b'\x0e\xf0\x01') == [b'\x02\x88\x01']
    assert eh.decode(0xD5, unhex('02028801028802')) == [b'\x02\x88\x01', b'\x02\x88\x02']
    assert eh.decode(0xD5, unhex('00')) == []
    assert eh.decode(0xD5, unhex('01028801')) == [b'\x02\x88\x01']


@pytest.mark.parametrize('epc,edt', ((0x80, '3030'), (0x82, '000046'), (0x8A, '0016'),
                                     (0x9F, '0380E7'), (0x9F, '148000'), (0xD5, '0202880102'),
                                     (0xD6, '01028801FF'), (0x8D, '41' * 13)))
def test_wrong_length_edt_raises(epc, edt):
    with pytest.raises(EchonetError):
        eh.decode(epc, unhex(edt))


def test_unit_multiplier_table():
    table = {0x00: 1, 0x01: 0.1, 0x02: 0.01, 0x03: 0.001, 0x04: 0.0001,
             0x0A: 10, 0x0B: 100, 0x0C: 1000, 0x0D: 10000}
    for code in range(256):
        assert eh.unit_multiplier(code) == table.get(code)
