"""The device logger: levels, lazy % formatting, secret masking, the last error, a failing sink."""

import log

ID = '00000012345678900000000000ABCDEF'
PASSWORD = 'PASSW0RD1234'


class Sink(object):
    def __init__(self):
        self.lines = []

    def __call__(self, line):
        self.lines.append(line)


class Loud(object):
    """An argument whose formatting is observable."""

    def __init__(self):
        self.formatted = 0

    def __str__(self):
        self.formatted += 1
        return 'loud'


def test_mask_replaces_every_secret_substring():
    secrets = [ID, PASSWORD, '']
    assert log.mask('SKSETRBID ' + ID, secrets) == 'SKSETRBID ****'
    assert log.mask('pwd=%s and again %s' % (PASSWORD, PASSWORD), secrets) == 'pwd=**** and again ****'
    assert log.mask('id ' + ID.lower(), secrets) == 'id ****'      # any ASCII case
    assert log.mask('nothing here', secrets) == 'nothing here'
    assert log.mask('abc', []) == 'abc'
    assert log.mask(123, ['2']) == '1****3'
    # a secret that contains another is masked whole, not leaving a tail
    assert log.mask('key=abcdef', ['abc', 'abcdef']) == 'key=****'
    assert log.mask('key=ABCdef abc', ('abcdef', 'abc')) == 'key=**** ****'
    # a secret that the mask itself contains does not loop for ever
    assert log.mask('a**b', ['**']) == 'a****b'


def test_levels_and_line_format():
    sink = Sink()
    lg = log.Logger('meter', sink=sink, level='info')
    lg.debug('hidden %d', 1)
    lg.info('joined channel %d pan %04X', 33, 0x1234)
    lg.warning('slow: %s', 'E7')
    lg.error('failed')
    assert sink.lines == ['INFO meter: joined channel 33 pan 1234', 'WARNING meter: slow: E7',
                          'ERROR meter: failed']
    lg.set_level(10)
    lg.debug('shown')
    assert sink.lines[-1] == 'DEBUG meter: shown'
    lg.set_level('none')
    lg.error('quiet')
    assert len(sink.lines) == 4


def test_arguments_are_formatted_only_when_enabled():
    sink = Sink()
    lg = log.Logger('x', sink=sink, level=20)
    loud = Loud()
    lg.debug('value %s', loud)
    assert loud.formatted == 0 and sink.lines == []
    lg.info('value %s', loud)
    assert loud.formatted == 1 and sink.lines == ['INFO x: value loud']


def test_bad_format_does_not_raise():
    sink = Sink()
    lg = log.Logger('x', sink=sink)
    lg.info('two %s %s', 'one')
    assert sink.lines[0] == "INFO x: two %s %s ('one',)"
    lg.error(ValueError('boom'))
    assert sink.lines[1] == 'ERROR x: boom'


def test_secrets_never_reach_a_line_or_the_error_ring():
    sink = Sink()
    root = log.Logger('app', sink=sink)
    root.set_secrets([ID, PASSWORD])
    child = root.child('bp35a1')        # children share the secrets set on the root
    child.info('> SKSETPWD C %s', PASSWORD)
    child.info('> SKSETRBID ' + ID)
    child.error('join failed for %s%s', ID[:16], ID[16:])   # masked after formatting
    for line in sink.lines:
        assert PASSWORD not in line and ID not in line, line
    assert sink.lines[0] == 'INFO bp35a1: > SKSETPWD C ****'
    assert sink.lines[1] == 'INFO bp35a1: > SKSETRBID ****'
    assert sink.lines[2] == 'ERROR bp35a1: join failed for ****'
    assert root.last_error == 'ERROR bp35a1: join failed for ****'


def test_last_error_and_count_live_on_the_root():
    sink = Sink()
    lg = log.Logger('r', sink=sink)
    assert lg.last_error is None and lg.errors == 0
    lg.warning('not an error')
    assert lg.last_error is None
    for i in range(4):
        lg.error('e%d', i)
    lg.child('x').child('y').error('e%d', 4)   # a grandchild's error counts on the root
    assert lg.last_error == 'ERROR y: e4'
    assert lg.errors == 5


def test_clock_stamps():
    class Clock(object):
        def ticks_ms(self):
            return 12345

    class Broken(object):
        def ticks_ms(self):
            raise OSError(5)

    sink = Sink()
    log.Logger('c', sink=sink, clock=Clock()).info('hi')
    log.Logger('c', sink=sink).info('hi')
    log.Logger('c', sink=sink, clock=Broken()).info('hi')   # loses the line, never raises
    assert sink.lines == ['12.345 INFO c: hi', 'INFO c: hi']


def test_failing_sink_does_not_raise():
    def sink(line):
        raise OSError(28)

    lg = log.Logger('s', sink=sink)
    lg.info('a')
    lg.error('b')
    assert lg.last_error == 'ERROR s: b'


def test_level_names():
    # LEVELS[i] names level (i + 1) * 10, in lines and in SmartMeter.json (any case)
    assert log.LEVELS == ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'NONE')
    lg = log.Logger('x', sink=Sink(), level='warning')
    assert not lg.enabled(20) and lg.enabled(30)
    lg.set_level('error')
    assert not lg.enabled(30) and lg.enabled(40)
    lg.set_level(10)
    assert lg.child('y').enabled(10)
    lg.child('y').set_level('None')         # a child sets the level of the whole family
    assert not lg.enabled(40)
    assert log.Logger('x', sink=Sink()).enabled(20) and not log.Logger('x').enabled(10)  # INFO
    try:
        lg.set_level('loud')
    except ValueError:
        pass
    else:
        raise AssertionError('an unknown level name was taken')


def test_secrets_set_on_a_child_mask_the_whole_family():
    sink = Sink()
    root = log.Logger('app', sink=sink)
    meter = root.child('meter')
    meter.set_secrets((PASSWORD,))
    root.info('pw %s', PASSWORD)
    assert sink.lines == ['INFO app: pw ****']
