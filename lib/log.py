"""A tiny logger for the device (UIFlow ships no logging module).

It is handed a sink (a callable taking one line, `print` by default) and optionally a clock
(the design's clock object with ticks_ms(), or a zero-argument callable returning a time
stamp).  Lines are formatted with `%` only when their level is enabled, every line passes
through `mask()` with the secrets set once from the config (B-route ID and password, Ambient
write key, MQTT and Wi-Fi passwords), and the last few error lines are kept in a fixed ring
for the diagnostics page.  It never opens files, never raises from a log call (a failing sink
is counted in `dropped`), and never lets a secret reach a line.
"""

DEBUG = 10
INFO = 20
WARNING = 30
ERROR = 40
NONE = 100  # above every level: silence

MASK = '****'

_LEVEL_NAMES = {DEBUG: 'DEBUG', INFO: 'INFO', WARNING: 'WARN', ERROR: 'ERROR'}
_BY_NAME = {'debug': DEBUG, 'info': INFO, 'warning': WARNING, 'warn': WARNING,
            'error': ERROR, 'none': NONE}


class LogError(ValueError):
    pass


def level_of(value):
    """'debug' / 'INFO' / 20 -> int level; LogError for anything else."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BY_NAME:
        return _BY_NAME[value.lower()]
    raise LogError('log level: must be one of debug, info, warning, error, none')


def _replace(text, secret):
    """Replace every occurrence of secret in text by MASK, ignoring ASCII case."""
    low = text.lower()
    key = secret.lower()
    if len(low) != len(text) or len(key) != len(secret):
        return text.replace(secret, MASK)   # lower() changed lengths: exact match only
    i = low.find(key)
    if i < 0:
        return text
    parts = []
    start = 0
    while i >= 0:
        parts.append(text[start:i])
        parts.append(MASK)
        start = i + len(key)
        i = low.find(key, start)
    parts.append(text[start:])
    return ''.join(parts)


def _secret_list(secrets):
    """Non-empty string secrets, longest first (so a secret containing another is masked whole)."""
    out = []
    for s in secrets or ():
        if isinstance(s, bytes):
            s = s.decode()
        if isinstance(s, str) and s and s not in out:
            out.append(s)
    out.sort(key=len, reverse=True)
    return tuple(out)


def mask(text, secrets):
    """text with every secret substring (any ASCII case) replaced by '****'."""
    if not isinstance(text, str):
        text = str(text)
    for secret in _secret_list(secrets):
        text = _replace(text, secret)
    return text


class _Shared(object):
    """State all loggers of one app share: sink, clock, secrets and the error ring."""

    def __init__(self, sink, clock, keep):
        self.sink = sink
        self.clock = clock
        self.secrets = ()
        self.keep = keep if keep > 0 else 1
        self.ring = [None] * self.keep
        self.next = 0
        self.errors = 0   # error lines logged since start
        self.dropped = 0  # lines the sink refused


class Logger(object):
    """Logger(name, sink=print, clock=None, level=INFO, keep=8); child(name) shares all but the name."""

    def __init__(self, name, sink=print, clock=None, level=INFO, keep=8, _shared=None):
        self.name = name
        self.level = level_of(level)
        self._s = _shared if _shared is not None else _Shared(sink, clock, keep)

    def child(self, name):
        return Logger(name, level=self.level, _shared=self._s)

    def set_level(self, level):
        self.level = level_of(level)

    def set_secrets(self, secrets):
        """Set once from the config; applies to this logger and every child."""
        self._s.secrets = _secret_list(secrets)

    def enabled(self, level):
        return level >= self.level

    def _stamp(self):
        clock = self._s.clock
        if clock is None:
            return None
        try:
            if callable(clock):
                return str(clock())
            ms = clock.ticks_ms()
            return '%d.%03d' % (ms // 1000, ms % 1000)
        except Exception:
            return None

    def log(self, level, msg, *args):
        if level < self.level:
            return
        if args:
            try:
                text = msg % args
            except Exception:
                text = '%s %r' % (msg, args)
        else:
            text = msg if isinstance(msg, str) else str(msg)
        line = '%s %s: %s' % (_LEVEL_NAMES.get(level, str(level)), self.name, text)
        stamp = self._stamp()
        if stamp is not None:
            line = stamp + ' ' + line
        s = self._s
        for secret in s.secrets:
            line = _replace(line, secret)
        if level >= ERROR:
            s.ring[s.next] = line
            s.next = (s.next + 1) % s.keep
            s.errors += 1
        try:
            s.sink(line)
        except Exception:
            s.dropped += 1

    def debug(self, msg, *args):
        if DEBUG >= self.level:
            self.log(DEBUG, msg, *args)

    def info(self, msg, *args):
        if INFO >= self.level:
            self.log(INFO, msg, *args)

    def warning(self, msg, *args):
        if WARNING >= self.level:
            self.log(WARNING, msg, *args)

    def error(self, msg, *args):
        self.log(ERROR, msg, *args)

    @property
    def last_error(self):
        """The most recent error line (masked), or None."""
        s = self._s
        return s.ring[(s.next - 1) % s.keep]

    def errors(self):
        """The kept error lines, oldest first."""
        s = self._s
        out = []
        for i in range(s.keep):
            line = s.ring[(s.next + i) % s.keep]
            if line is not None:
                out.append(line)
        return out

    @property
    def error_count(self):
        return self._s.errors

    @property
    def dropped(self):
        return self._s.dropped


class NullLogger(object):
    """Does nothing; the default for modules handed no logger."""

    last_error = None
    error_count = 0
    dropped = 0

    def child(self, name):
        return self

    def debug(self, msg, *args):
        pass

    info = warning = error = debug

    def log(self, level, msg, *args):
        pass

    def enabled(self, level):
        return False

    def errors(self):
        return []
