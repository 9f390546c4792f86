"""The device logger: levels, lazy % formatting, secret masking, the error ring, a failing sink."""

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
    secrets = [ID, PASSWORD, '', None]
    assert log.mask('SKSETRBID ' + ID, secrets) == 'SKSETRBID ****'
    assert log.mask('pwd=%s and again %s' % (PASSWORD, PASSWORD), secrets) == 'pwd=**** and again ****'
    assert log.mask('id ' + ID.lower(), secrets) == 'id ****'      # any ASCII case
    assert log.mask('nothing here', secrets) == 'nothing here'
    assert log.mask('abc', []) == 'abc'
    assert log.mask(123, ['2']) == '1****3'
    # a secret that contains another is masked whole, not leaving a tail
    assert log.mask('key=abcdef', ['abc', 'abcdef']) == 'key=****'


def test_levels_and_line_format():
    sink = Sink()
    lg = log.Logger('meter', sink=sink, level='info')
    lg.debug('hidden %d', 1)
    lg.info('joined channel %d pan %04X', 33, 0x1234)
    lg.warning('slow: %s', 'E7')
    lg.error('failed')
    assert sink.lines == ['INFO meter: joined channel 33 pan 1234', 'WARN meter: slow: E7',
                          'ERROR meter: failed']
    lg.set_level(log.DEBUG)
    lg.debug('shown')
    assert sink.lines[-1] == 'DEBUG meter: shown'
    lg.set_level('none')
    lg.error('quiet')
    assert len(sink.lines) == 4


def test_arguments_are_formatted_only_when_enabled():
    sink = Sink()
    lg = log.Logger('x', sink=sink, level=log.INFO)
    loud = Loud()
    lg.debug('value %s', loud)
    assert loud.formatted == 0 and sink.lines == []
    lg.info('value %s', loud)
    assert loud.formatted == 1 and sink.lines == ['INFO x: value loud']


def test_bad_format_does_not_raise():
    sink = Sink()
    lg = log.Logger('x', sink=sink)
    lg.info('two %s %s', 'one')
    assert sink.lines[0].startswith('INFO x: two %s %s (')
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


def test_error_ring_keeps_the_last_n():
    sink = Sink()
    lg = log.Logger('r', sink=sink, keep=3)
    assert lg.last_error is None and lg.errors() == []
    lg.warning('not an error')
    assert lg.last_error is None
    for i in range(5):
        lg.error('e%d', i)
    assert lg.last_error == 'ERROR r: e4'
    assert lg.errors() == ['ERROR r: e2', 'ERROR r: e3', 'ERROR r: e4']
    assert lg.error_count == 5


def test_clock_stamps():
    class Clock(object):
        def ticks_ms(self):
            return 12345

    sink = Sink()
    log.Logger('c', sink=sink, clock=Clock()).info('hi')
    log.Logger('c', sink=sink, clock=lambda: '12:00:01').info('hi')

    def broken():
        raise OSError(5)

    log.Logger('c', sink=sink, clock=broken).info('hi')
    assert sink.lines == ['12.345 INFO c: hi', '12:00:01 INFO c: hi', 'INFO c: hi']


def test_failing_sink_is_counted_not_raised():
    def sink(line):
        raise OSError(28)

    lg = log.Logger('s', sink=sink)
    lg.info('a')
    lg.error('b')
    assert lg.dropped == 2
    assert lg.last_error == 'ERROR s: b'


def test_level_names():
    assert log.level_of('DEBUG') == log.DEBUG
    assert log.level_of('warn') == log.WARNING
    assert log.level_of(30) == 30
    for bad in ('loud', None, True):
        try:
            log.level_of(bad)
        except log.LogError:
            continue
        raise AssertionError(bad)


def test_null_logger():
    lg = log.NullLogger()
    lg.info('x %s', 1)
    lg.error('y')
    assert lg.child('z') is lg and lg.last_error is None and lg.errors() == []
