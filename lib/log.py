"""A tiny logger for the device (UIFlow ships no logging module).

It is handed a sink (a callable taking one line, `print` by default) and optionally a clock with
ticks_ms() for a time stamp.  Lines are formatted with % only when their level is enabled; every
line passes through `mask()` with the secrets set once from the config (B-route ID and password,
Ambient write key, MQTT and Wi-Fi passwords), in any ASCII case.  A child (`child(name)`) has its
own name and shares the rest with the root logger it came from: sink, clock, level, secrets,
and the masked `last_error` line and `errors` count of the diagnostics page, which live on the
root (read them there).  It never opens files, never raises from a log call, and never lets a
secret reach a line.
"""

# The levels: 10 debug, 20 info, 30 warning, 40 error, 50 none (above every level: silence).
# Their names, in lines and in SmartMeter.json's log_level (any case): LEVELS[i] names level
# (i + 1) * 10.
LEVELS = ('DEBUG', 'INFO', 'WARNING', 'ERROR', 'NONE')


def mask(text, secrets):
    """str(text) with every secret (any ASCII case) replaced by '****'; longer secrets first, so
    one that contains another is masked whole."""
    text = str(text)
    for s in sorted(secrets, key=len, reverse=True):
        i = 0
        while s:
            i = text.lower().find(s.lower(), i)
            if i < 0:
                break
            text = text[:i] + '****' + text[i + len(s):]
            i += 4
    return text


class Logger:
    """Logger(name, sink=print, clock=None, level=20): debug/info/warning/error(fmt, *args)."""

    def __init__(self, name, sink=print, clock=None, level=20, root=None):
        self.name = name
        self.root = root or self
        if root is None:
            self.sink = sink
            self.clock = clock
            self.secrets = ()
            self.last_error = None     # the last ERROR line of the family, masked
            self.errors = 0            # ERROR lines of the family since start
            self.set_level(level)

    def child(self, name):
        return Logger(name, root=self.root)

    def set_level(self, level):
        """A level number or name ('debug' ... 'none'), for the whole family."""
        self.root.level = LEVELS.index(level.upper()) * 10 + 10 if isinstance(level, str) else level

    def set_secrets(self, secrets):
        """Every secret value (config's secrets()), masked on every logger of the family."""
        self.root.secrets = secrets

    def enabled(self, level):
        return level >= self.root.level

    def log(self, level, msg, *args):
        r = self.root
        if level < r.level:
            return
        try:
            if args:
                try:
                    msg = msg % args
                except Exception:
                    msg = str(msg) + ' ' + repr(args)   # the format and what it was given
            msg = mask('%s%s %s: %s' % ('%d.%03d ' % divmod(r.clock.ticks_ms(), 1000) if r.clock else '',
                                        LEVELS[level // 10 - 1],
                                        self.name, msg), r.secrets)
            if level >= 40:         # ERROR
                r.last_error = msg
                r.errors += 1
            r.sink(msg)
        except Exception:
            pass    # a broken sink or clock loses the line, never the caller

    def debug(self, msg, *args):
        self.log(10, msg, *args)

    def info(self, msg, *args):
        self.log(20, msg, *args)

    def warning(self, msg, *args):
        self.log(30, msg, *args)

    def error(self, msg, *args):
        self.log(40, msg, *args)
