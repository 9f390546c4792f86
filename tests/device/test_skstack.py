"""lib/bp35a1.py (LineParser) against the real captures in tests/data/vectors (raw module bytes), on
CPython and MicroPython: both dialects, ASCII and binary ERXUDP, CR-only replies, glued
keywords, fragmentation, malformed input and the buffer bound.  Items are tuples, kind first."""
from util import unhex
from bp35a1 import LineParser

VEC = 'tests/data/vectors/'
Z = '0000:0000:0000:0000:0000:0000:0000:0000'
METER_A1 = 'FE80:0000:0000:0000:021C:6400:03DD:6393'   # V18 (RL7023 Stick-D/IPS)
STICK_A1 = 'FE80:0000:0000:0000:1207:23FF:FEA0:77E3'
METER_C2 = 'FE80:0000:0000:0000:C2F9:4500:4058:B5FB'   # V15 (RS-WSUHA-P)
DONGLE_C2 = 'FE80:0000:0000:0000:021D:1291:0004:E578'
RXZ = ('ERXUDP %s %s' % (Z, Z)).encode()     # ERXUDP header start, zeroed addresses
ALL_VECTORS = ('V01', 'V03', 'V04', 'V07', 'V08', 'V09', 'V12', 'V13', 'V15', 'V17', 'V18',
               'V19', 'V21', 'V22', 'V23', 'V24', 'V25', 'V26', 'V27', 'V28', 'V29', 'V30',
               'V33', 'V36', 'V38', 'V40', 'V41', 'V42')
# the fields of an 'erxudp' item, in order
RX_FIELDS = ('kind', 'sender', 'dest', 'rport', 'lport', 'sender_lla', 'secured', 'side', 'rssi',
             'length', 'data', 'binary', 'error')


def ok(value=None):
    return ('OK', value)


def text(line):
    return ('text', line)


def event(code, sender, side=None, param=None):
    return ('event', code, sender, side, param)


def rx(item):
    """An 'erxudp' item as {field: value}."""
    assert item[0] == 'erxudp' and len(item) == len(RX_FIELDS), item
    return dict(zip(RX_FIELDS, item))


def vector(name):
    with open(VEC + name + '.raw', 'rb') as f:
        return f.read()


def drain(p, out):
    while True:
        item = p.next()
        if item is None:
            return out
        out.append(item)


def parse(data, reads=None, size=2048):
    """Items for data fed in one read, or in the given list of reads."""
    p = LineParser(size)
    out = []
    for chunk in (reads if reads is not None else [data]):
        p.feed(chunk)
        drain(p, out)
    return out


def parse_bytewise(data):
    return parse(None, [data[i:i + 1] for i in range(len(data))])


def kinds(items):
    return [i[0] for i in items]


def erxudp_line(sender, dest, rport, lport, lla, middle, data_hex):
    return ('ERXUDP %s %s %s %s %s %s %04X %s\r\n' % (
        sender, dest, rport, lport, lla, middle, len(data_hex) // 2, data_hex)).encode()


def erxudp_binary(sender, dest, rport, lport, lla, middle, payload):
    head = 'ERXUDP %s %s %s %s %s %s %04X ' % (sender, dest, rport, lport, lla, middle,
                                                len(payload))
    return head.encode() + payload + b'\r\n'


# ------------------------------------------------------------------ real vectors

def test_v01_skver_bp35a1():
    assert parse(vector('V01')) == [text('SKVER'), text('EVER 1.2.10'), ok()]


def test_v03_cr_only_replies_byte_exact():
    reads = [b"SKVER\r\nEVER 1.5.2\r\nOK\r\n", b"ROPT\r\nOK 01\r", b"RUART\r\nOK 80\r"]
    assert vector('V03') == b''.join(reads)
    expected = [text('SKVER'), text('EVER 1.5.2'), ok(), text('ROPT'), ok('01'), text('RUART'),
                ok('80')]
    assert parse(vector('V03')) == expected
    assert parse(None, reads) == expected
    # the CR-only reply is complete as soon as its CR arrives: no waiting for a LF
    p = LineParser()
    p.feed(reads[1])
    assert drain(p, []) == [text('ROPT'), ok('01')]
    assert p.next() is None


def test_cr_only_line_then_lf_in_a_later_feed_gives_no_extra_item():
    p = LineParser()
    p.feed(b'OK 01\r')
    assert drain(p, []) == [ok('01')]
    p.feed(b'\n')
    assert p.next() is None
    p.feed(b'OK\r\n')
    assert drain(p, []) == [ok()]
    assert p.next() is None


def test_lf_only_and_empty_lines():
    items = parse(b'\n\r\nSKVER\nEVER 1.2.10\n\n\nOK\n\r\r\n')
    assert items == [text('SKVER'), text('EVER 1.2.10'), ok()]


def test_v04_dse_einfo_side_and_masked_secrets():
    items = parse(vector('V04'))
    assert kinds(items) == ['text', 'text', 'OK', 'text', 'text', 'OK', 'text', 'OK',
                            'text', 'OK', 'text', 'OK']
    # the driver reads the dialect from the last EINFO field ('0' on the dual-stack family)
    assert items[4] == text('EINFO FE80:0000:0000:0000:021D:1291:0004:FFFF 001D12910004FFFF '
                            '39 9E08 0')
    # the B-route password and ID never come out of the parser
    assert items[6] == text('SKSETPWD ********')
    assert items[8] == text('SKSETRBID ********')
    for item in items:
        assert '0123456789AB' not in str(item)
    assert items[10] == text('SKSCAN 2 FFFFFFFF 6 0')


def test_secrets_are_masked_in_any_echo_form():
    items = parse(b'SKSETPWD C PASSWORD1234\r\nSKSETRBID 0123456789ABCDEF0123456789ABCDEF\r\n'
                  b'SKSETPWD C PASSWORD1234OK\r\n')
    assert items == [text('SKSETPWD ********'), text('SKSETRBID ********'),
                     text('SKSETPWD ********')]


def test_einfo_bp35a1_ffe():
    items = parse(b'EINFO FE80:0000:0000:0000:021D:1290:0004:263D 001D12900004263D '
                  b'21 FFFF FFFE\r\n')
    assert items == [text('EINFO FE80:0000:0000:0000:021D:1290:0004:263D 001D12900004263D '
                          '21 FFFF FFFE')]


def test_v07_bp35a1_bring_up():
    items = parse(vector('V07'))
    assert kinds(items) == ['text', 'OK', 'text', 'OK', 'text', 'OK', 'event', 'pan', 'event',
                            'text', 'OK', 'text', 'OK', 'text', 'text', 'text', 'OK', 'event',
                            'event']
    assert items[6] == event(0x20, Z)
    assert items[7] == ('pan', {'Channel': '37', 'Channel Page': '09', 'Pan ID': '0123',
                                'Addr': '0123456789ABCDEF', 'LQI': '51', 'PairID': '01234567'})
    assert items[8] == event(0x22, Z)
    assert items[13] == text('SKLL64 0123456789ABCDEF')
    assert items[14] == text(Z)                     # the bare address SKLL64 prints
    assert items[17] == event(0x21, Z, param=2)
    assert items[18] == event(0x02, Z)


def test_v07_elided_erxudp_is_an_erxudp_error_not_a_crash():
    items = parse(b'ERXUDP ' + Z.encode() + b'\r\nOK\r\n')
    assert kinds(items) == ['erxudp', 'OK']
    assert rx(items[0])['data'] is None and rx(items[0])['error']


def test_v08_scan_result_channel_59_lqi_178():
    items = parse(vector('V08'))
    assert kinds(items) == ['event', 'pan', 'event']
    assert items[1] == ('pan', {'Channel': '3B', 'Channel Page': '09', 'Pan ID': '0000',
                                'Addr': '0000000000000000', 'LQI': 'B2', 'PairID': '00000000'})
    assert items[2][1] == 0x22


def test_v09_dse_scan_in_the_reads_as_returned():
    reads = [b"OK\r\nSKSCAN 2 FFFFFFFF 6 0 \r\nOK\r\n", b"SKSCAN 2 FFFF", b"FFFF 6 0 \r\nOK\r\n",
             b" 20 FE80:0000:0000:0000:021D:1291:0004:E578 0\r\nEPANDESC\r\n  Channel:31\r\n"
             b"  Channel Page:09\r\n  Pan ID:B5FB\r\n  Addr:0011223344556677\r\n  LQI:DD\r\n"
             b"  Side:0\r\n  PairID:0194BFAD\r\n",
             b"EVENT 22 FE80:0000:0000:0000:021D:1291:0004:E578 0\r\n"]
    assert vector('V09') == b''.join(reads)
    items = parse(None, reads)
    assert items == parse(vector('V09'))
    assert kinds(items) == ['OK', 'text', 'OK', 'text', 'OK', 'text', 'pan', 'event']
    assert items[3] == text('SKSCAN 2 FFFFFFFF 6 0 ')
    # the read boundary swallowed "EVENT": what is left is not an event
    assert items[5] == text(' 20 ' + DONGLE_C2 + ' 0')
    assert items[6] == ('pan', {'Channel': '31', 'Channel Page': '09', 'Pan ID': 'B5FB',
                                'Addr': '0011223344556677', 'LQI': 'DD', 'Side': '0',
                                'PairID': '0194BFAD'})
    assert items[7] == event(0x22, DONGLE_C2, side=0)


def test_v12_rl7023_scan():
    items = parse(vector('V12'))
    assert kinds(items) == ['event', 'pan', 'event']
    assert items[0][2] == STICK_A1
    assert items[1] == ('pan', {'Channel': '33', 'Channel Page': '09', 'Pan ID': '6393',
                                'Addr': '001C640003DD6393', 'LQI': '4D', 'PairID': '00F6D114'})


def test_v13_skll64_bare_address_line():
    assert parse(vector('V13')) == [text('SKLL64 001C640003DD6393'),
                                    text('FE80:0000:0000:0000:021C:6400:03DD:6393')]


def test_v15_dse_join_one_read():
    items = parse(vector('V15'))
    assert kinds(items) == ['event', 'event', 'erxudp', 'event', 'event', 'erxudp', 'event',
                            'erxudp', 'event', 'event', 'erxudp']
    assert items[0] == event(0x21, METER_C2, side=0, param=2)
    assert items[1] == event(0x02, METER_C2, side=0)
    pana = rx(items[2])
    assert pana['sender'] == METER_C2 and pana['dest'] == DONGLE_C2
    assert pana['rport'] == 0x02CC and pana['lport'] == 0x02CC
    assert pana['sender_lla'] == '0011223344556677'
    assert pana['secured'] is False and pana['side'] == 0 and pana['rssi'] is None
    assert pana['length'] == 40 and len(pana['data']) == 40 and pana['binary'] is False
    assert pana['data'][:8] == unhex('00000028C0000002') and pana['error'] is None
    assert rx(items[5])['length'] == 0x54 and len(rx(items[5])['data']) == 0x54
    done = rx(items[7])
    assert done['length'] == 0x58
    # Session-Lifetime AVP (code 8) = 0x00015180 = 86400 s
    assert unhex('000800000004000000015180') in done['data']
    assert items[9] == event(0x25, METER_C2, side=0)
    inf = rx(items[10])
    assert inf['dest'] == 'FF02:0000:0000:0000:0000:0000:0000:0001'
    assert inf['rport'] == 0x0E1A and inf['lport'] == 0x0E1A and inf['secured'] is True
    assert inf['side'] == 0 and inf['length'] == 18
    assert inf['data'] == unhex('108100000EF0010EF0017301D50401028801')


def test_v15_elided_erxudp_is_a_datalen_mismatch_and_the_stream_goes_on():
    line = ('ERXUDP %s %s 02CC 02CC 0011223344556677 0 0 0068 '
            '0000006880000002136F0BFE2FDA83DD\r\n' % (METER_C2, DONGLE_C2)).encode()
    items = parse(line + ('EVENT 21 %s 0 00\r\n' % METER_C2).encode())
    assert kinds(items) == ['erxudp', 'event']
    bad = rx(items[0])
    assert bad['data'] is None and 'DATALEN' in bad['error']
    assert bad['length'] == 0x68 and bad['sender'] == METER_C2
    assert items[1][4] == 0


def test_v17_event21_comes_before_ok():
    assert parse(vector('V17')) == [event(0x21, Z, param=0), ok()]


def test_v18_rl7023_answers():
    items = parse(vector('V18'))
    assert kinds(items) == ['event', 'OK', 'erxudp'] * 6
    rxs = [rx(i) for i in items if i[0] == 'erxudp']
    assert [r['data'] for r in rxs] == [
        unhex('108100000EF0010EF0017301D50401028801'),
        unhex('1081000102880105FF017201E7040000001B'),
        unhex('1081000202880105FF017201E7040000001A'),
        unhex('1081000302880105FF017201D30400000001'),
        unhex('1081000402880105FF017201E10101'),
        unhex('1081000502880105FF017201E00400012631')]
    for r in rxs:
        assert r['sender'] == METER_A1 and r['sender_lla'] == '001C640003DD6393'
        assert r['secured'] is True and r['side'] is None and r['rssi'] is None
        assert r['length'] == len(r['data']) and r['binary'] is False and r['error'] is None
    assert rxs[0]['dest'] == 'FF02:0000:0000:0000:0000:0000:0000:0001'
    assert rxs[1]['dest'] == STICK_A1
    assert items[0] == event(0x21, METER_A1, param=0)


def test_v19_dse_sendto_echo_event_ok():
    items = parse(vector('V19'))
    assert kinds(items) == ['text', 'event', 'OK']
    assert items[0] == text('SKSENDTO 1 FE80:0000:0000:0000:021C:6400:036E:8CF5 0E1A 1 0 0012 ')
    assert items[1] == event(0x21, 'FE80:0000:0000:0000:021C:6400:036E:8CF5', side=0, param=0)


def test_v21_dse_event21_side_then_param():
    assert parse(vector('V21')) == [event(0x21, 'FE80:...', side=0, param=0)]


def test_v22_bp35a1_nine_tokens_opc2():
    items = parse(vector('V22'))
    assert kinds(items) == ['event', 'OK', 'erxudp']
    r = rx(items[2])
    assert r['sender'] == 'FE80:0000:0000:0000:021C:6400:03CD:76A4'
    assert r['dest'] == 'FE80:0000:0000:0000:021D:1290:0004:263D'
    assert r['sender_lla'] == '001C640003CD76A4' and r['length'] == 24
    assert r['data'] == unhex('1081100202880105FF017202E7040000029CE80400280028')


def test_v23_to_v36_reconstructed_ascii_erxudp():
    for name in ('V23', 'V24', 'V25', 'V26', 'V27', 'V28', 'V29', 'V30', 'V33', 'V36'):
        items = parse(vector(name))
        assert kinds(items) == ['erxudp'], name
        r = rx(items[0])
        assert r['error'] is None and r['length'] == len(r['data']), name
        assert r['data'][:2] == b'\x10\x81', name
    assert rx(parse(vector('V33'))[0])['length'] == 208
    assert rx(parse(vector('V23'))[0])['data'] == unhex('1081000102880105FF015201D300')


def test_v38_binary_erxudp_reconstructed():
    items = parse(vector('V38'))
    assert kinds(items) == ['event', 'OK', 'erxudp']
    r = rx(items[2])
    assert r['binary'] is True and r['error'] is None and r['length'] == 18
    assert r['data'] == unhex('10817B6A02880105FF017201E70400000263')


def test_v40_stray_s_fail_er09_then_empty_lines():
    items = parse(vector('V40'))
    assert kinds(items) == ['text', 'event', 'OK', 'text', 'fail', 'erxudp']
    assert items[3] == text('S')
    assert items[4] == ('fail', 'ER09')
    assert rx(items[5])['data'] == unhex('1081000102880105FF017201E704000004A8')


def test_v41_v42_fail_codes():
    assert parse(vector('V41')) == [text('SKTERM'), ('fail', 'ER10')]
    assert parse(vector('V42')) == [text('ROPT'), ('fail', 'ER04')]


def test_every_vector_byte_by_byte_equals_one_read():
    for name in ALL_VECTORS:
        data = vector(name)
        whole = parse(data)
        assert parse_bytewise(data) == whole, name
        # and in odd-sized reads
        for size in (2, 3, 7, 64):
            reads = [data[i:i + size] for i in range(0, len(data), size)]
            assert parse(None, reads) == whole, (name, size)


def test_all_vectors_in_one_stream_mix_dialects():
    stream = b''.join([vector(n) for n in ALL_VECTORS])
    assert len(stream) > 2048                       # more than one buffer: feed it in reads
    items = parse(None, [stream[i:i + 500] for i in range(0, len(stream), 500)])
    assert parse_bytewise(stream) == items
    expected = []
    for name in ALL_VECTORS:
        expected.extend(parse(vector(name)))
    assert items == expected


# ------------------------------------------------------------------ ERXUDP forms

def test_dse_erxudp_with_rssi_eleven_tokens():
    line = erxudp_line(METER_C2, DONGLE_C2, '0E1A', '0E1A', '0011223344556677', 'B2 1 0',
                       '1081000102880105FF017201E7040000001B')
    r = rx(parse(line)[0])
    assert r['rssi'] == 0xB2 and r['secured'] is True and r['side'] == 0
    assert r['data'] == unhex('1081000102880105FF017201E7040000001B') and r['binary'] is False


def test_binary_erxudp_with_crlf_spaces_and_keywords_inside_data():
    payload = b'\x10\x81\x00\x01 \r\n\rEVENT 21 \nERXUDP OK\r\n\x00\xff '
    stream = (erxudp_binary(METER_C2, DONGLE_C2, '0E1A', '0E1A', '0011223344556677', '1 0',
                            payload) +
              erxudp_binary(METER_A1, STICK_A1, '0E1A', '0E1A', '001C640003DD6393', '1',
                            b'\r\n' * 9) +
              ('EVENT 21 %s 00\r\nOK\r\n' % METER_A1).encode())
    items = parse(stream)
    assert kinds(items) == ['erxudp', 'erxudp', 'event', 'OK']
    a, b = rx(items[0]), rx(items[1])
    assert a['binary'] is True and a['data'] == payload and a['side'] == 0
    assert b['binary'] is True and b['data'] == b'\r\n' * 9 and b['side'] is None
    assert parse_bytewise(stream) == items


def test_binary_and_ascii_erxudp_mixed_line_by_line():
    frame = unhex('1081000102880105FF017201E704000004A8')
    stream = (erxudp_binary(Z, Z, '0E1A', '0E1A', '0000000000000000', '1', frame) +
              erxudp_line(Z, Z, '0E1A', '0E1A', '0000000000000000', '1',
                          '1081000102880105FF017201E704000004A8') +
              erxudp_binary(Z, Z, '02CC', '02CC', '0000000000000000', '0 0', b'\x00\x00\x00\x10'))
    items = [rx(i) for i in parse(stream)]
    assert [i['binary'] for i in items] == [True, False, True]
    assert items[0]['data'] == frame and items[1]['data'] == frame
    assert items[2]['rport'] == 0x02CC and items[2]['data'] == b'\x00\x00\x00\x10'


def test_zero_length_erxudp():
    items = parse(erxudp_line(Z, Z, '0E1A', '0E1A', '0000000000000000', '1', '') + b'OK\r\n')
    assert kinds(items) == ['erxudp', 'OK']
    assert rx(items[0])['data'] == b'' and rx(items[0])['error'] is None


def test_malformed_erxudp_gives_errors_and_the_next_line_still_parses():
    tail = b'EVENT 21 ' + Z.encode() + b' 00\r\n'
    cases = [
        RXZ + b' 0E1A 0E1A\r\n',          # too few
        erxudp_line(Z, Z, '0E1A', '0E1A', '0000000000000000', '1', '10810G'),      # bad hex
        RXZ + b' 0E1A 0E1A 0000000000000000 1 0012 1081\r\n',
        RXZ + b' 0E1A 0E1A 0000000000000000 1 0002 108100\r\n',
        RXZ + b' 0E1A 0E1A 0000000000000000 1 0002 \x10\x81\x00\r\n',
        RXZ + b' ZZZZ 0E1A 0000000000000000 1 0002 1081\r\n',
        RXZ + b' 0E1A 0E1A 0000000000000000 X 0002 1081\r\n',
        RXZ + b' 0E1A 0E1A 0000000000000000 0002 1081\r\n',
        b'ERXUDP ' + b'A' * 300 + b'\r\n',
        b'ERXUDP\r\n',
    ]
    for case in cases:
        items = parse(case + tail)
        assert items[-1] == event(0x21, Z, param=0), case
        rxs = [rx(i) for i in items if i[0] == 'erxudp']
        assert len(rxs) == 1, case
        assert rxs[0]['data'] is None and rxs[0]['error'], case
        assert parse_bytewise(case + tail) == items, case


def test_datalen_larger_than_the_buffer_is_an_error_not_a_stall():
    line = RXZ + b' 0E1A 0E1A 0000000000000000 1 FFFF \x10\x81\r\n'
    items = parse(line + b'OK\r\n')
    assert kinds(items) == ['erxudp', 'OK']
    assert 'large' in rx(items[0])['error']


def test_erxudp_cut_short_waits_for_the_rest():
    for head, rest in ((RXZ + b' 0E1A 0E1A 0000000000000000 1 0012 \x10\x81\x00',
                        unhex('0102880105FF017201E704000004A8') + b'\r\n'),
                       (RXZ + b' 0E1A 0E1A 0000000000000000 1 0012 108100',
                        b'0102880105FF017201E704000004A8\r\n'),
                       (RXZ + b' 0E1A', b' 0E1A 0000000000000000 1 0012 '
                                         b'1081000102880105FF017201E704000004A8\r\n')):
        p = LineParser()
        p.feed(head)
        assert p.next() is None                  # still waiting for the rest
        p.feed(rest)
        r = rx(p.next())
        assert r['error'] is None and r['data'] == unhex('1081000102880105FF017201E704000004A8')
        assert p.next() is None
    # an ASCII line that ends early is a DATALEN mismatch once its line end has come
    items = parse(RXZ + b' 0E1A 0E1A 0000000000000000 1 0012 108100\r\nOK\r\n')
    assert kinds(items) == ['erxudp', 'OK'] and 'DATALEN' in rx(items[0])['error']


# ------------------------------------------------------------------ glued keywords

def test_keyword_glued_behind_sksendto_echo():
    stream = (b'SKSENDTO 1 ' + METER_A1.encode() + b' 0E1A 1 000EEVENT 21 ' +
              METER_A1.encode() + b' 00\r\nOK\r\n')
    items = parse(stream)
    assert items == [text('SKSENDTO 1 ' + METER_A1 + ' 0E1A 1 000E'),
                     event(0x21, METER_A1, param=0), ok()]
    assert parse_bytewise(stream) == items


def test_erxudp_glued_behind_echo_ascii_and_binary():
    frame = unhex('1081000102880105FF017201E7040000001B')
    ascii_rx = erxudp_line(METER_A1, STICK_A1, '0E1A', '0E1A', '001C640003DD6393', '1',
                           '1081000102880105FF017201E7040000001B')
    binary_rx = erxudp_binary(METER_A1, STICK_A1, '0E1A', '0E1A', '001C640003DD6393', '1',
                              b'\r\n \x10\x81\x00')
    for r in (ascii_rx, binary_rx):
        stream = b'SKSENDTO' + r + b'OK\r\n'
        items = parse(stream)
        assert kinds(items) == ['text', 'erxudp', 'OK'], r
        assert items[0] == text('SKSENDTO')
        assert rx(items[1])['error'] is None
        assert parse_bytewise(stream) == items
    assert rx(parse(b'SKSENDTO' + ascii_rx)[1])['data'] == frame
    assert rx(parse(b'SKSENDTO' + binary_rx)[1])['data'] == b'\r\n \x10\x81\x00'


def test_garbage_prefix_before_a_keyword_is_text():
    items = parse(b'\x00\xffjunkEVENT 22 ' + Z.encode() + b'\r\n')
    assert items == [text('\x00?junk'), event(0x22, Z)]


def test_fail_and_answers_glued_behind_an_echo():
    items = parse(b'SKTERMFAIL ER10\r\nSKINFOEINFO ' + METER_A1.encode() +
                  b' 001C640003DD6393 21 8888 FFFE\r\nSKVEREVER 1.2.10\r\n')
    assert items == [text('SKTERM'), ('fail', 'ER10'), text('SKINFO'),
                     text('EINFO ' + METER_A1 + ' 001C640003DD6393 21 8888 FFFE'),
                     text('SKVER'), text('EVER 1.2.10')]


# ------------------------------------------------------------------ blocks and events

def test_pan_without_pairid_is_emitted_at_the_next_line():
    stream = (b'EPANDESC\r\n  Channel:21\r\n  Channel Page:09\r\n  Pan ID:FFFF\r\n'
              b'  Addr:0011223344556677\r\n  LQI:10\r\nEVENT 22 ' + Z.encode() + b'\r\n')
    items = parse(stream)
    assert items == [('pan', {'Channel': '21', 'Channel Page': '09', 'Pan ID': 'FFFF',
                              'Addr': '0011223344556677', 'LQI': '10'}), event(0x22, Z)]
    assert parse_bytewise(stream) == items
    # a block cut short by the next line: whatever fields came (the driver refuses it)
    assert parse(b'EPANDESC\r\n  Channel:21\r\nOK\r\n') == [('pan', {'Channel': '21'}), ok()]
    # the block stays open until a line that is not a field says it has ended
    assert parse(b'EPANDESC\r\n  Channel:21\r\n') == []
    assert parse(b'EPANDESC\r\n  Channel:21\r\n\r\n') == [('pan', {'Channel': '21'})]


def test_two_blocks_in_one_scan():
    stream = (b'EPANDESC\r\n  Channel:21\r\n  LQI:10\r\nEPANDESC\r\n  Channel:22\r\n  LQI:20\r\n'
              b'EVENT 22 ' + Z.encode() + b'\r\n')
    items = parse(stream)
    assert items == [('pan', {'Channel': '21', 'LQI': '10'}), ('pan', {'Channel': '22', 'LQI': '20'}),
                     event(0x22, Z)]
    assert parse_bytewise(stream) == items


def test_manual_style_four_space_indent_and_empty_pairid():
    stream = (b'EPANDESC\r\n    Channel:21\r\n    Channel Page:09\r\n    Pan ID:8888\r\n'
              b'    Addr:12345678ABCDEF01\r\n    LQI:E1\r\n    PairID:\r\nOK\r\n')
    items = parse(stream)
    assert items == [('pan', {'Channel': '21', 'Channel Page': '09', 'Pan ID': '8888',
                              'Addr': '12345678ABCDEF01', 'LQI': 'E1', 'PairID': ''}), ok()]


def test_indented_line_without_a_colon_ends_the_block():
    items = parse(b'EPANDESC\r\n  Channel:21\r\n  junk\r\nOK\r\n')
    assert items == [('pan', {'Channel': '21'}), text('  junk'), ok()]


def test_field_line_outside_a_block_is_text():
    assert parse(b'  Channel:21\r\n') == [text('  Channel:21')]
    # a LF at a line start ends the line before or an empty line: it never ends a block, so a
    # LF-only empty line inside one is skipped (the module prints CR LF; a CR line ends it)
    assert parse(b'EPANDESC\n  Channel:21\n\n  LQI:10\nOK\n') == \
        [('pan', {'Channel': '21', 'LQI': '10'}), ok()]


def test_event_forms():
    items = parse(b'EVENT 20 ' + Z.encode() + b'\r\n'          # BP35A1, no param
                  b'EVENT 21 ' + Z.encode() + b' 01\r\n'       # BP35A1, param
                  b'EVENT 25 ' + Z.encode() + b' 1\r\n'        # DSE, side only
                  b'EVENT 21 ' + Z.encode() + b' 0 02\r\n'     # DSE, side and param
                  b'EVENT 1F ' + Z.encode() + b'\r\n'
                  b'EVENT ZZ ' + Z.encode() + b'\r\n'          # bad code
                  b'EVENT 21\r\n'                              # no sender
                  b'EVENT 21 ' + Z.encode() + b' 012\r\n'      # neither side nor param
                  b'EVENT 21 ' + Z.encode() + b' 0 XX\r\n')    # bad param
    assert items[:5] == [event(0x20, Z), event(0x21, Z, param=1), event(0x25, Z, side=1),
                         event(0x21, Z, side=0, param=2), event(0x1F, Z)]
    assert kinds(items[5:]) == ['text'] * 4


def test_small_responses():
    items = parse(b'FAIL\r\nWOPT 01\rOK\r')
    assert items == [('fail', None), text('WOPT 01'), ok()]


def test_lines_the_driver_never_needs_are_text():
    # EAPPVER, ESREG, EPONG and EEDSCAN answer commands the app never sends: kept as text
    pong = b'EPONG ' + METER_A1.encode()
    items = parse(b'ESREG 00000001\r\nEAPPVER rev26e\r\n' + pong + b'\r\nEEDSCAN\r\n'
                  b'21 E2 22 E5\r\nOK\r\n')
    assert items == [text('ESREG 00000001'), text('EAPPVER rev26e'), text(pong.decode()),
                     text('EEDSCAN'), text('21 E2 22 E5'), ok()]


# ------------------------------------------------------------------ robustness

def test_garbage_never_raises():
    junk = bytes(range(256)) * 3 + b'\r\n\r\r\n\n \xff\xfe ERXUDP \r\n EVENT \r\n'
    items = parse(junk)
    assert items
    for item in items:
        assert item[0] in ('text', 'erxudp', 'event', 'fail', 'OK')
        assert not (item[0] == 'text' and item[1].startswith('parser: '))   # no internal error
    assert parse_bytewise(junk) == items


def test_overflow_is_bounded_and_counted():
    p = LineParser(size=256)
    for _ in range(40):
        p.feed(b'x' * 100)                 # a line that never ends
        assert p.next() is None
        assert len(p.buf) - p.offset <= 256
    assert p.dropped == 4000 - 256
    p.feed(b'\r\nOK\r\n')                 # the tail of the junk line, then a good line
    items = drain(p, [])
    assert kinds(items) == ['text', 'OK']
    assert p.dropped == 4000 - 256 + 6


def test_feed_accepts_none_bytearray_memoryview():
    p = LineParser()
    p.feed(None)
    p.feed(b'')
    p.feed(bytearray(b'OK '))
    p.feed(memoryview(b'01\r\n'))
    assert drain(p, []) == [ok('01')]


def test_reset_drops_partial_state():
    p = LineParser()
    p.feed(b'EPANDESC\r\n  Channel:21\r\nERXUDP ' + Z.encode())
    p.reset()
    p.feed(b'OK\r\n')
    assert drain(p, []) == [ok()]
