"""tools/decode.py as a subprocess: every real vector decodes to the values real-lines.md states;
stdin, mixed dialects, bare frames and garbage (exit 0, nothing but JSON Lines on stdout)."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DECODE = os.path.join(ROOT, 'tools', 'decode.py')
VEC = os.path.join(ROOT, 'tests', 'data', 'vectors')


def vector(name):
    with open(os.path.join(VEC, name + '.raw'), 'rb') as f:
        return f.read()


def decode(path=None, stdin=b''):
    args = [sys.executable, DECODE] + ([path] if path else [])
    res = subprocess.run(args, input=stdin, capture_output=True, timeout=60)
    objs = [json.loads(line) for line in res.stdout.decode('ascii').splitlines()]
    return res.returncode, objs, res.stderr


def decode_vec(*names):
    if len(names) == 1:
        rc, objs, _ = decode(os.path.join(VEC, names[0] + '.raw'))
    else:
        rc, objs, _ = decode(stdin=b''.join(vector(n) for n in names))
    assert rc == 0
    return objs


def frames(objs):
    return [o['frame'] for o in objs if o['type'] in ('erxudp', 'frame') and o['frame']]


def prop(frame, epc):
    found = [p for p in frame['properties'] if p['epc'] == epc]
    assert len(found) == 1
    return found[0]


def test_v18_rl7023_values_and_kwh():
    objs = decode_vec('V18')
    assert [o['type'] for o in objs] == ['event', 'ok', 'erxudp'] * 6
    f = frames(objs)
    inf = f[0]
    assert inf['tid'] == 0 and inf['seoj'] == '0EF001' and inf['esv'] == '73'
    assert prop(inf, 'D5') == {'epc': 'D5', 'pdc': 4, 'edt': '01028801', 'value': ['028801']}
    assert prop(f[1], 'E7') == {'epc': 'E7', 'pdc': 4, 'edt': '0000001B', 'value': 27}
    assert prop(f[2], 'E7')['value'] == 26
    assert prop(f[3], 'D3')['value'] == 1
    assert prop(f[4], 'E1')['value'] == 0.1
    e0 = prop(f[5], 'E0')
    assert e0['value'] == 75313 and e0['kwh'] == 7531.3
    rx = objs[5]
    assert rx == {'type': 'erxudp', 'sender': 'FE80:0000:0000:0000:021C:6400:03DD:6393',
                  'dest': 'FE80:0000:0000:0000:1207:23FF:FEA0:77E3', 'rport': 3610,
                  'lport': 3610, 'sender_lla': '001C640003DD6393', 'secured': True,
                  'side': None, 'rssi': None, 'length': 18,
                  'frame': {'tid': 1, 'seoj': '028801', 'deoj': '05FF01', 'esv': '72',
                            'properties': [{'epc': 'E7', 'pdc': 4, 'edt': '0000001B',
                                            'value': 27}]}}
    assert objs[0] == {'type': 'event', 'code': '21',
                       'sender': 'FE80:0000:0000:0000:021C:6400:03DD:6393',
                       'side': None, 'param': '00'}
    assert objs[1] == {'type': 'ok', 'value': None}


def test_e0_without_d3_and_e1_has_no_kwh():
    rx = vector('V18').split(b'\r\n')[-2] + b'\r\n'       # the E0 answer alone
    rc, objs, _ = decode(stdin=rx)
    e0 = prop(frames(objs)[0], 'E0')
    assert e0['value'] == 75313 and 'kwh' not in e0


def test_v22_opc2_power_and_currents():
    f = frames(decode_vec('V22'))[0]
    assert f['tid'] == 0x1002
    assert prop(f, 'E7')['value'] == 668
    assert prop(f, 'E8')['value'] == {'r': 4.0, 't': 4.0}


def test_v23_get_sna_d3_pdc0_is_null():
    f = frames(decode_vec('V23'))[0]
    assert f['esv'] == '52'
    assert prop(f, 'D3') == {'epc': 'D3', 'pdc': 0, 'edt': '', 'value': None}


def test_v24_to_v29_single_values():
    f = frames(decode_vec('V24'))[0]
    assert f['tid'] == 0x0361 and prop(f, 'D5')['value'] == ['028801']
    assert prop(frames(decode_vec('V25'))[0], 'E1')['value'] == 0.01
    assert prop(frames(decode_vec('V26'))[0], 'D7')['value'] == 7
    assert prop(frames(decode_vec('V28'))[0], 'E7')['value'] == 1192
    assert prop(frames(decode_vec('V29'))[0], 'E8')['value'] == {'r': 9.8, 't': 3.4}


def test_v27_v30_fixed_time_energy_and_kwh_after_d3_sna_and_e1():
    ea = prop(frames(decode_vec('V27'))[0], 'EA')
    assert ea['value'] == {'time': '2022-08-01 20:00:00', 'count': 76999}
    assert 'kwh' not in ea
    f = frames(decode_vec('V23', 'V25', 'V27', 'V30'))
    ea = prop(f[2], 'EA')
    assert ea['kwh'] == 769.99
    inf = f[3]
    assert inf['esv'] == '73' and inf['tid'] == 0x0362
    assert prop(inf, 'EA')['value'] == {'time': '2022-08-01 20:30:00', 'count': 77058}
    assert prop(inf, 'EA')['kwh'] == 770.58


def test_v33_e2_history_day_2_and_48_counts():
    f = frames(decode_vec('V33'))[0]
    e2 = prop(f, 'E2')
    assert e2['pdc'] == 194
    expected = ([75005] + [75006] * 5 + [75007] * 4 + [75008] * 4 + [75009] * 19 +
                [75010, 75012, 75016, 75019] + [75020] * 3 + [75021] * 3 + [75024] * 3 +
                [75025] * 2)
    assert e2['value'] == {'day': 2, 'counts': expected}


def test_v36_negative_power_and_v38_binary_erxudp():
    assert prop(frames(decode_vec('V36'))[0], 'E7')['value'] == -1962
    objs = decode_vec('V38')
    assert [o['type'] for o in objs] == ['event', 'ok', 'erxudp']
    f = objs[2]['frame']
    assert f['tid'] == 0x7B6A and prop(f, 'E7')['value'] == 611


def test_scan_results_and_events():
    objs = decode_vec('V08')
    assert objs[1] == {'type': 'pan', 'channel': 59, 'channel_page': 9, 'pan_id': '0000',
                       'addr': '0000000000000000', 'lqi': 178, 'side': None,
                       'pair_id': '00000000'}
    objs = decode_vec('V09')
    pan = [o for o in objs if o['type'] == 'pan'][0]
    assert pan['channel'] == 0x31 and pan['pan_id'] == 'B5FB' and pan['lqi'] == 221
    assert pan['side'] == 0 and pan['pair_id'] == '0194BFAD'
    assert objs[-1] == {'type': 'event', 'code': '22',
                        'sender': 'FE80:0000:0000:0000:021D:1291:0004:E578',
                        'side': 0, 'param': None}
    assert {'type': 'unparsed', 'line': ' 20 FE80:0000:0000:0000:021D:1291:0004:E578 0'} in objs


def test_v15_pana_on_02cc_has_null_frame_without_error():
    objs = decode_vec('V15')
    rx = [o for o in objs if o['type'] == 'erxudp']
    assert len(rx) == 4
    for o in rx[:3]:
        assert o['rport'] == 716 and o['frame'] is None and 'error' not in o
        assert o['secured'] is False and o['side'] == 0
    assert rx[3]['frame']['properties'][0]['value'] == ['028801']
    assert objs[0] == {'type': 'event', 'code': '21',
                       'sender': 'FE80:0000:0000:0000:C2F9:4500:4058:B5FB',
                       'side': 0, 'param': '02'}


def test_responses_versions_info_and_masked_secrets():
    objs = decode_vec('V03')
    assert objs == [{'type': 'echo', 'line': 'SKVER'}, {'type': 'version', 'version': '1.5.2'},
                    {'type': 'ok', 'value': None}, {'type': 'echo', 'line': 'ROPT'},
                    {'type': 'ok', 'value': '01'}, {'type': 'echo', 'line': 'RUART'},
                    {'type': 'ok', 'value': '80'}]
    rc, out, _ = decode(os.path.join(VEC, 'V04.raw'))
    assert {'type': 'info', 'ipv6': 'FE80:0000:0000:0000:021D:1291:0004:FFFF',
            'mac': '001D12910004FFFF', 'channel': 0x39, 'pan_id': '9E08', 'side': '0'} in out
    res = subprocess.run([sys.executable, DECODE, os.path.join(VEC, 'V04.raw')],
                         capture_output=True)
    assert b'0123456789AB' not in res.stdout and b'0123456789ABCDEF' not in res.stdout
    assert decode_vec('V41')[1] == {'type': 'fail', 'code': 'ER10'}
    assert decode_vec('V42')[1] == {'type': 'fail', 'code': 'ER04'}
    objs = decode_vec('V07')
    assert {'type': 'ipv6', 'addr': '0000:0000:0000:0000:0000:0000:0000:0000'} in objs
    assert decode_vec('V01')[1] == {'type': 'version', 'version': '1.2.10'}


def test_mixed_dialects_and_forms_on_stdin():
    dse_rssi_binary = (b'ERXUDP FE80:0000:0000:0000:C2F9:4500:4058:B5FB '
                       b'FE80:0000:0000:0000:021D:1291:0004:E578 0E1A 0E1A 0011223344556677 '
                       b'B2 1 0 0012 ' + bytes.fromhex('1081000102880105FF017201E70400000A0D') +
                       b'\r\n')
    stream = (vector('V15') + vector('V38') + dse_rssi_binary + vector('V18') +
              b'1081000102880105FF017201E704000004A8\n' + vector('V40'))
    rc, objs, err = decode(stdin=stream)
    assert rc == 0
    rx = [o for o in objs if o['type'] == 'erxudp']
    assert len(rx) == 4 + 1 + 1 + 6 + 1
    c2 = rx[5]
    assert c2['rssi'] == 0xB2 and c2['side'] == 0 and c2['secured'] is True
    assert prop(c2['frame'], 'E7')['value'] == 0x0A0D
    bare = [o for o in objs if o['type'] == 'frame']
    assert len(bare) == 1 and prop(bare[0]['frame'], 'E7')['value'] == 1192
    assert {'type': 'unparsed', 'line': 'S'} in objs
    assert {'type': 'fail', 'code': 'ER09'} in objs


def test_bare_frames_and_bad_frames():
    stdin = (b'1081000102880105FF017201E80400627FFE\r\n'
             b'1081000102880105ff017201e704000004a8\n'
             b'1081ZZ\n'
             b'10810001\n'
             b'1081000102880105FF017201E70400\n')
    rc, objs, _ = decode(stdin=stdin)
    assert rc == 0
    assert prop(objs[0]['frame'], 'E8')['value'] == {'r': 9.8, 't': None}
    assert prop(objs[1]['frame'], 'E7')['value'] == 1192
    for o in objs[2:]:
        assert o['type'] == 'frame' and o['frame'] is None and o['error']
    assert len(objs) == 5


def test_bad_erxudp_and_bad_echonet_payload():
    z = b'0000:0000:0000:0000:0000:0000:0000:0000'
    stdin = (b'ERXUDP ' + z + b' ' + z + b' 0E1A 0E1A 0000000000000000 1 0012 1081\r\n'
             b'ERXUDP ' + z + b' ' + z + b' 0E1A 0E1A 0000000000000000 1 0004 10810001\r\n'
             b'ERXUDP ' + z + b' ' + z + b' 0E1A 0E1A 0000000000000000 1 0002 0102\r\n'
             b'ERXUDP ' + z + b'\r\n')
    rc, objs, _ = decode(stdin=stdin)
    assert rc == 0 and [o['type'] for o in objs] == ['erxudp'] * 4
    assert objs[0]['frame'] is None and 'DATALEN' in objs[0]['error']
    assert objs[1]['frame'] is None and objs[1]['error']          # ECHONET frame too short
    assert objs[2]['frame'] is None and 'error' not in objs[2]    # not ECHONET
    assert objs[3]['frame'] is None and objs[3]['error']


def test_property_values_of_every_decoded_epc():
    props = [('80', '30'), ('82', '00004600'), ('88', '42'), ('8A', '000016'),
             ('8D', '41424300000000000000'), ('97', '0C1E'), ('98', '07E60801'),
             ('9F', '0380E7E8'), ('E5', '02'), ('E0', 'FFFFFFFE'), ('E7', '7FFFFFFE'),
             ('F0', '1234'), ('EB', '07E60801141E0000012D02'), ('E3', '00000010')]
    body = ''.join('%s%02X%s' % (e, len(d) // 2, d) for e, d in props)
    line = '1081000102880105FF0172%02X%s\n' % (len(props), body)
    rc, objs, _ = decode(stdin=line.encode())
    f = objs[0]['frame']
    values = dict((p['epc'], p['value']) for p in f['properties'])
    assert values == {'80': 'on', '82': {'release': 'F', 'revision': 0}, '88': 'normal',
                      '8A': '000016', '8D': 'ABC', '97': '12:30', '98': '2022-08-01',
                      '9F': ['80', 'E7', 'E8'], 'E5': 2, 'E0': None, 'E7': None, 'F0': None,
                      'EB': {'time': '2022-08-01 20:30:00', 'count': 77058}, 'E3': 16}
    assert prop(f, 'F0')['edt'] == '1234'
    # a wrong-length EDT is an error on that property only
    rc, objs, _ = decode(stdin=b'1081000102880105FF017202E70300000AE70400000001\n')
    f = objs[0]['frame']
    assert f['properties'][0]['value'] is None and f['properties'][0]['error']
    assert f['properties'][1]['value'] == 1


def test_every_vector_file_decodes_cleanly():
    for name in sorted(os.listdir(VEC)):
        if not name.endswith('.raw'):
            continue
        rc, objs, err = decode(os.path.join(VEC, name))
        assert rc == 0 and objs, name
        for o in objs:
            if o['type'] in ('erxudp', 'frame'):
                assert 'error' not in o, (name, o)


def test_garbage_input_exit_0_and_only_json_on_stdout():
    junk = bytes(range(256)) * 4 + b'\r\nhello world\r\nERXUDP \xff\xfe\r\n\x00\x00EVENT 2\n'
    res = subprocess.run([sys.executable, DECODE], input=junk, capture_output=True, timeout=60)
    assert res.returncode == 0
    lines = res.stdout.decode('ascii').splitlines()
    assert lines
    objs = [json.loads(line) for line in lines]
    assert {'type': 'unparsed', 'line': 'hello world'} in objs
    assert all(isinstance(o, dict) and 'type' in o for o in objs)


def test_empty_input_and_missing_file():
    assert decode(stdin=b'') == (0, [], b'')
    rc, objs, err = decode(os.path.join(VEC, 'no-such-file.raw'))
    assert rc == 2 and objs == [] and err


def test_end_of_input_completes_the_last_line_and_reports_a_cut_erxudp():
    z = b'0000:0000:0000:0000:0000:0000:0000:0000'
    # a last line without a line end, then an EPANDESC block the input ends inside
    rc, objs, _ = decode(stdin=b'OK\r\nEPANDESC\r\n  Channel:21\r\n  Pan ID:8888\r\n')
    assert rc == 0 and objs[0] == {'type': 'ok', 'value': None}
    assert objs[1]['type'] == 'pan' and objs[1]['channel'] == 0x21 and objs[1]['pan_id'] == '8888'
    assert objs[1]['addr'] is None and len(objs) == 2
    rc, objs, _ = decode(stdin=b'EVER 1.2.10')
    assert objs == [{'type': 'version', 'version': '1.2.10'}]
    # a binary ERXUDP whose data the input never delivered
    rc, objs, _ = decode(stdin=b'OK\r\nERXUDP ' + z + b' ' + z + b' 0E1A 0E1A 0000000000000000 1 '
                               b'0012 \x10\x81\x00\r\n')
    assert rc == 0 and objs[0]['type'] == 'ok' and len(objs) == 2
    assert objs[1]['type'] == 'erxudp' and objs[1]['frame'] is None
    assert 'truncated' in objs[1]['error']


def test_answers_to_commands_the_app_never_sends():
    rc, objs, _ = decode(stdin=b'EAPPVER rev26e\r\nESREG 00000001\r\nEPONG '
                               b'FE80:0000:0000:0000:021C:6400:03DD:6393\r\nWOPT 01\r\n')
    assert objs == [{'type': 'appver', 'version': 'rev26e'}, {'type': 'esreg', 'value': '00000001'},
                    {'type': 'pong', 'sender': 'FE80:0000:0000:0000:021C:6400:03DD:6393'},
                    {'type': 'echo', 'line': 'WOPT 01'}]
