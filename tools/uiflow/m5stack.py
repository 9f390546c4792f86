"""Stand-in for UIFlow 1.x's `m5stack` on the M5StickC: lcd, btnA, btnB, axp, speaker, rtc.

`from m5stack import *` gives the same names as on the device.  The simulator drives it
through the `_sim` objects:

* `lcd._sim`: the frame (image(), save_png(), ansi()), texts of the current frame, ...
  (see _tft.py).
* `m5stack._sim.press('a' | 'b', long=False, double=False)`, `.down(name)`, `.up(name)`:
  button presses.  They may be called from any thread; they are turned into pin edges at
  the next tick point (utime.sleep*, machine.idle) and the callbacks run there, in the app's
  thread, with the timing rules of UIFlow's button module (PRESS at the press edge, or
  after the 220 ms double-press window once wasDoublePress is in use; RELEASE at the
  release edge, or LONGPRESS instead when pressFor is in use and the button was held
  longer than its hold time; polled flags expire after about 400 ms).
* `axp._sim`: backlight and brightness (also mirrored into lcd._sim for image(lit=True)).
"""

import collections
import threading

import machine
from uiflow_sim import MachineReset, hub

import _tft

lcd = _tft.TFT()
rtc = machine.RTC()

_PRESS = 'press'
_RELEASE = 'release'
_LONG = 'long'
_DOUBLE = 'double'
_POLL_EXPIRY_MS = 400  # UIFlow clears an unpolled event after 40 button-timer ticks of 10 ms
_DEBOUNCE_MS = 20
_DOUBLE_MS = 220


class Button(object):
    """btnA / btnB.  Callbacks take no arguments, as in UIFlow."""

    def __init__(self, name, pin):
        self._name = name
        self._pin = pin
        self.restart()

    # -- UIFlow API
    def wasPressed(self, callback=None):
        if callback:
            self._cb[_PRESS] = callback
            return None
        return self._poll(_PRESS)

    def wasReleased(self, callback=None):
        if callback:
            self._cb[_RELEASE] = callback
            return None
        return self._poll(_RELEASE)

    def pressFor(self, holdTime=1.0, callback=None):
        self._hold_ms = holdTime * 1000
        self._long_enabled = True
        if callback:
            self._cb[_LONG] = callback
            return None
        return self._poll(_LONG)

    def wasDoublePress(self, callback=None):
        self._double_enabled = True
        if callback:
            self._cb[_DOUBLE] = callback
            return None
        return self._poll(_DOUBLE)

    def isPressed(self):
        return self._down

    def isReleased(self):
        return not self._down

    def restart(self):
        self._cb = {_PRESS: None, _RELEASE: None, _LONG: None, _DOUBLE: None}
        self._flags = {}  # polled event -> time it was raised
        self._press_wait = False
        self._press_time = None
        self._release_time = None
        self._hold_ms = 1000.0
        self._double_enabled = False
        self._long_enabled = False
        self._down = False
        self._edges = collections.deque()  # (t_ms, down) still to happen
        self._pending = collections.deque()  # RELEASE/LONG raised by an edge, not yet served
        self._pending_double = False

    def deinit(self):
        return None

    # -- simulation
    def _poll(self, event):
        if event in self._flags:
            del self._flags[event]
            return True
        return False

    def _raise(self, event, now):
        cb = self._cb[event]
        if cb is not None:
            cb()
        else:
            self._flags[event] = now

    def _edge(self, t, down):
        self._down = down
        if down:
            if self._press_time is None or t - self._press_time > _DEBOUNCE_MS:
                if (self._double_enabled and self._press_time is not None
                        and t - self._press_time < _DOUBLE_MS):
                    self._pending_double = True
                self._press_wait = True
            self._press_time = t
        else:
            if self._release_time is None or t - self._release_time > _DEBOUNCE_MS:
                held = t - self._press_time if self._press_time is not None else 0
                if self._long_enabled and held > self._hold_ms:
                    self._pending.append(_LONG)
                else:
                    self._pending.append(_RELEASE)
            self._release_time = t

    def _dispatch(self, now):
        if self._pending_double:
            self._pending_double = False
            if self._cb[_DOUBLE] is not None:
                self._press_wait = False
                self._cb[_DOUBLE]()
            else:
                self._flags[_DOUBLE] = now
        if self._press_wait:
            if self._double_enabled:
                if now - self._press_time > _DOUBLE_MS:
                    self._press_wait = False
                    self._raise(_PRESS, now)
            else:
                self._press_wait = False
                self._raise(_PRESS, now)
        while self._pending:
            self._raise(self._pending.popleft(), now)
        for event, t in list(self._flags.items()):
            if now - t >= _POLL_EXPIRY_MS:
                del self._flags[event]

    def _next_due(self):
        due = None
        if self._edges:
            due = self._edges[0][0]
        if self._press_wait and self._double_enabled and self._press_time is not None:
            t = self._press_time + _DOUBLE_MS + 1
            due = t if due is None else min(due, t)
        for t in self._flags.values():
            t = t + _POLL_EXPIRY_MS
            due = t if due is None else min(due, t)
        return due


class ButtonSim(object):
    """m5stack._sim: press buttons from the simulator (any thread)."""

    always = False
    short_ms = 100  # how long a short press is held
    long_extra_ms = 300  # a long press is held for the hold time + this

    def __init__(self):
        self._lock = threading.Lock()
        self._requests = collections.deque()
        self.presses = 0

    def _button(self, name):
        key = str(name).lower()
        if key in ('a', 'btna'):
            return btnA
        if key in ('b', 'btnb'):
            return btnB
        raise ValueError('unknown button %r (use "a" or "b")' % (name,))

    def press(self, name, long=False, double=False, hold_ms=None):
        """Queue a press-and-release of button 'a' or 'b' (long: held past its pressFor
        time; double: two quick presses).  Takes effect at the next tick point."""
        btn = self._button(name)
        with self._lock:
            self._requests.append((btn, 'press', bool(long), bool(double), hold_ms))
            self.presses += 1

    def down(self, name):
        """Hold the button down (until up())."""
        btn = self._button(name)
        with self._lock:
            self._requests.append((btn, 'down', False, False, None))

    def up(self, name):
        btn = self._button(name)
        with self._lock:
            self._requests.append((btn, 'up', False, False, None))

    def pending(self):
        with self._lock:
            return len(self._requests)

    # -- hub source
    def _take_requests(self, now):
        with self._lock:
            reqs = list(self._requests)
            self._requests.clear()
        for btn, kind, long_, double, hold_ms in reqs:
            hub.event('button', '%s %s%s' % (btn._name, kind, ' long' if long_ else ' double' if double else ''))
            start = now
            if btn._edges:
                start = max(now, btn._edges[-1][0] + 50)
            if kind == 'down':
                btn._edges.append((start, True))
            elif kind == 'up':
                btn._edges.append((start, False))
            elif double:
                btn._edges.extend([(start, True), (start + 60, False),
                                   (start + 150, True), (start + 210, False)])
            else:
                if hold_ms is None:
                    hold_ms = btn._hold_ms + self.long_extra_ms if long_ else self.short_ms
                btn._edges.append((start, True))
                btn._edges.append((start + int(hold_ms), False))

    def next_due(self, now):
        if self._requests:
            return now
        due = None
        for btn in (btnA, btnB):
            t = btn._next_due()
            if t is not None and (due is None or t < due):
                due = t
        return due

    def run_due(self, now):
        self._take_requests(now)
        for btn in (btnA, btnB):
            while btn._edges and btn._edges[0][0] <= now:
                t, down = btn._edges.popleft()
                btn._edge(t, down)
                btn._dispatch(t)
            btn._dispatch(now)

    def reset(self, hard):
        with self._lock:
            self._requests.clear()
        for btn in (btnA, btnB):
            btn.restart()
        if hard:
            self.presses = 0


# M5StickC: button A is the big front button (GPIO37), B the side one (GPIO39)
btnA = Button('A', 37)
btnB = Button('B', 39)
_sim = ButtonSim()
hub.add_source(_sim)
hub.on_reset(_sim.reset, order=20)


# ---------------------------------------------------------------------- AXP192
class AxpSim(object):
    def __init__(self):
        self.reset(True)

    def reset(self, hard):
        self.brightness = None
        self.ldo2 = True
        self.ldo3 = True
        self.ldo2_volt = 3.3
        self.bat_voltage = 4.05
        self.bat_current = -35.0
        self.vbus_voltage = 5.0
        self.vin_voltage = 0.0
        self.temperature = 38.5
        self.charging = False
        lcd._sim.backlight = True
        lcd._sim.brightness = None


class Axp(object):
    """`axp`: the M5StickC's AXP192 power chip (backlight on LDO2)."""

    def __init__(self):
        self._sim = AxpSim()

    def setLcdBrightness(self, brightness):
        level = max(0, min(100, int(brightness)))
        self._sim.brightness = level
        lcd._sim.brightness = level
        lcd._sim.version += 1

    def setLDO2State(self, state):
        self._sim.ldo2 = bool(state)
        lcd._sim.backlight = bool(state)
        lcd._sim.version += 1

    def setLDO3State(self, state):
        self._sim.ldo3 = bool(state)

    def setLDO2Vol(self, volt):
        self._sim.ldo2_volt = float(volt)

    def getBatVoltage(self):
        return self._sim.bat_voltage

    def getBatCurrent(self):
        return self._sim.bat_current

    def getVinVoltage(self):
        return self._sim.vin_voltage

    def getVBusVoltage(self):
        return self._sim.vbus_voltage

    def getChargeState(self):
        return self._sim.charging

    def getTempInAXP192(self):
        return self._sim.temperature

    def powerAll(self):
        return None

    def powerOff(self):
        hub.raise_reset(MachineReset('axp.powerOff()', 1))


axp = Axp()
hub.on_reset(axp._sim.reset, order=31)
hub.on_reset(lambda hard: lcd._sim.reset(), order=30)


# ---------------------------------------------------------------------- speaker
class Speaker(object):
    """No sound in the simulator; calls are recorded in speaker._sim.calls."""

    def __init__(self):
        self._sim = collections.namedtuple('SpeakerSim', 'calls')(collections.deque(maxlen=100))

    def tone(self, freq=1800, duration=200, volume=None):
        self._sim.calls.append(('tone', freq, duration))

    def sing(self, freq=1800, beat=1):
        self._sim.calls.append(('sing', freq, beat))

    def volume(self, value):
        self._sim.calls.append(('volume', value))

    setVolume = volume

    def checkInit(self):
        return None


speaker = Speaker()

__all__ = ['lcd', 'btnA', 'btnB', 'axp', 'speaker', 'rtc']
