"""The SmartMeter app: schedule, time, billing, screen and uploads, wired to the meter session.

`App(hw, cfg, log)` is handed every piece of hardware by apps/SMM.py in `hw`, the checked config
(lib/config.py) and the logger; it creates none of them.  `hw` has: uart, lcd, btnA, btnB, ticks
(utime-like), flash (root folder), wifi_connected(), wifi_reconnect(), ntp() -> UTC seconds, wdt
(None until armed) and arm_wdt(), reset(), socket and select modules (usocket, uselect), ssl
(ussl or None), heap() -> (free bytes, largest free block), backlight(percent), device_id.

A drift-free schedule on ticks: current and power every 10 s (one request E7+E8; every sixth
also carries E0/E3 for this period's kWh and bill), an Ambient record every 30 s, an MQTT state
on every refresh.  Long waits inside the driver (scan, join, answers) call `idle()`, which keeps
the watchdog, buttons and screen alive but does no network I/O (a slow server must not leave
the UART unread); Wi-Fi, NTP, Ambient and MQTT are served from the main loop.  Ambient and MQTT
are imported only when configured, and the pages behind button B (lib/pages.py, which reads
what it shows from this object) only when shown, so a screen-only setup does not pay for them.
No step raises out of `step()`: errors are logged, counted and shown, and the loop goes on (no
crash loop).  Free heap and the largest free block are logged at start and hourly.  Secrets
never reach the log, the screen or the uploads.

Every name is kept in the device's RAM for good (MicroPython interns identifiers), so the many
timers live in one list `t` and the back-offs in one list `retry`, indexed by the constants
below, and the readings in one list `vals`.
"""
import gc
from util import const, WallClock, JsonStore, from_epoch, to_epoch, days_from_civil
from meter import MeterSession
from bp35a1 import Bp35a1
from charge import BillingPeriod, ymd_text
import echonet
from log import mask
from view import View

_INSTANT_MS = const(10000)
_AMBIENT_MS = const(30000)
_SLICE_MS = const(100)           # longest sleep of the main loop (UART, buttons, uploads)
_IDLE_MS = const(200)            # housekeeping (watchdog, buttons, screen): a press shows within this
_LONG_RELEASE_MS = const(1500)   # a release this soon after a long press belongs to it
_MIN_UPTIME_S = const(900)       # no device reset within 15 min of boot
_MAX_RESETS = const(3)           # ... nor after 3 resets in a row that brought no reading
_WIFI_GRACE_MS = const(120000)   # Wi-Fi down this long: ask the firmware to reconnect
_HEAP_MS = const(3600000)        # heap figures in the log
_PAGE_MS = const(5000)           # the chart and diagnostics pages, while shown
_IMPLAUSIBLE_KWH = const(20000)  # no home uses 20 MWh in one billing period
# t[]: uptime s, the ticks it was counted to, last idle(), last page refresh, last heap log,
# next refresh, next Ambient record, last long press (or None), Wi-Fi down since (or None),
# the minute the night schedule was last checked
_UP = const(0)
_UP_AT = const(1)
_IDLE = const(2)
_PAGE = const(3)
_HEAP = const(4)
_REFRESH = const(5)
_UPLOAD = const(6)
_LONG = const(7)
_WIFI_DOWN = const(8)
_NIGHT = const(9)
# retry[]: the back-offs of the connect, NTP, Wi-Fi reconnect, period start (E2), chart (E2)
_CONNECT = const(0)
_NTP = const(1)
_WIFI = const(2)
_HISTORY = const(3)
_CHART = const(4)
# vals[]: current (R, T) A, power W, (period start, today), period kWh, period yen (the five
# main-page regions, see lib/view.py), cumulative import kWh (E0), export kWh (E3)
_IMPORT = const(5)
_EXPORT = const(6)


class Backoff:
    """A retry time on ticks: `first` ms after a failure, doubling up to `cap`.  Once due it
    stays due (a deadline left unchecked for days would misread the wrapped ticks)."""

    def __init__(self, ticks, first, cap):
        self.ticks = ticks
        self.first = self.delay = first
        self.cap = cap
        self.at = None

    def ready(self, now):
        if self.at is not None and self.ticks.ticks_diff(now, self.at) < 0:
            return False
        self.at = None
        return True

    def failed(self, now):
        self.at = self.ticks.ticks_add(now, self.delay)
        self.delay = min(self.delay * 2, self.cap)

    def wait(self, now, ms):
        """Success: the next try in ms, and the doubling starts again."""
        self.delay = self.first
        self.at = self.ticks.ticks_add(now, ms)


class App:
    def __init__(self, hw, cfg, log):
        self.hw = hw
        self.cfg = cfg
        self.log = log
        ticks = self.ticks = hw.ticks
        now = ticks.ticks_ms()
        night = cfg.night
        self.view = View(hw.lcd, hw.backlight, cfg.contract_amperage, night[2] if night else 20)
        self.wall = WallClock(ticks, cfg.tz_offset)
        self.t = [0, now, now, now, now, now, ticks.ticks_add(now, _AMBIENT_MS), None, None, -1]
        self.retry = [Backoff(ticks, 30000, 600000), Backoff(ticks, 1000, 3600000),
                      Backoff(ticks, _WIFI_GRACE_MS, 1800000), Backoff(ticks, 60000, 1800000),
                      Backoff(ticks, 60000, 1800000)]
        self.vals = [None] * 7
        self.times = [None] * 5         # when each main-page value was read (uptime s)
        flash = hw.flash
        # smm_boots.json: [boots, resets in a row that brought no reading]; the period start
        # (baseline) with the meter (MAC) it belongs to: a replaced meter must not inherit it
        self.file = (JsonStore(flash + '/smm_boots.json'), JsonStore(cfg.baseline_file))
        st = self.file[0].load()
        self.boots = [st[0] + 1, st[1]] if isinstance(st, list) and len(st) == 2 else [1, 0]
        self.file[0].save(self.boots)
        st = self.file[1].load()
        self.meter_id = st.get('meter') if isinstance(st, dict) else None
        self.billing = BillingPeriod(cfg.collect_date, baseline=st)
        if self.billing.baseline_error:
            log.warning('saved period start ignored: %s', self.billing.baseline_error)
        self.session = MeterSession(Bp35a1(hw.uart, ticks, log.child('wisun'), self.idle), ticks,
                                    cfg.rbid, cfg.password, JsonStore(cfg.scan_cache),
                                    cfg.recovery, log.child('meter'), self._on_inf, self._on_reset)
        self.ambient = self.mqtt = None
        if cfg.ambient and hw.socket is not None:
            import ambient
            a = cfg.ambient
            try:
                self.ambient = ambient.Ambient(a['channel_id'], a['write_key'], a['url'], hw.socket,
                                               hw.select, ticks, flash + '/smm_ambient',
                                               log.child('ambient'), self._wifi_ok)
            except ValueError as e:     # refused settings: measure anyway, say why in the log
                log.error('Ambient off: %s', e)
        if cfg.mqtt and hw.socket is not None:
            import mqttpub
            self.mqtt = mqttpub.MqttPublisher(cfg.mqtt, ticks, hw.socket, hw.select, hw.ssl,
                                              log.child('mqtt'), hw.device_id, cfg.tz_offset)
        self.heap = (None, None)    # free heap and the largest free block, as last measured
        self.pressed = 0            # button flags: 1 A, 2 long A, 4 B
        self.busy = False           # inside idle(): it must not run twice at once
        self.last_error = None
        self.connected = False
        self.due = 1                # E2 wanted: 1 the period start, 2 the chart
        self.today = None           # (y, m, d) of the chart's today
        # the chart's cumulative counts at 00:00 ... 24:00 of today and yesterday: None until
        # the chart page is first shown (then read from the meter's history and kept up to date)
        self.chart = None
        self.n = 0                  # refreshes since the schedule (re)started
        hw.btnA.wasReleased(self._on_a)
        hw.btnA.pressFor(0.8, self._on_a_long)
        hw.btnB.wasReleased(self._on_b)

    # ---- buttons (callbacks from the firmware: they only set flags) ---------------------------

    def _on_a(self):
        # firmware that reports a release after a long press must not flip the screen too
        at = self.t[_LONG]
        self.t[_LONG] = None
        if at is None or self.ticks.ticks_diff(self.ticks.ticks_ms(), at) >= _LONG_RELEASE_MS:
            self.pressed |= 1

    def _on_a_long(self):
        self.t[_LONG] = self.ticks.ticks_ms()
        self.pressed |= 2

    def _on_b(self):
        self.pressed |= 4

    # ---- housekeeping -----------------------------------------------------------------------

    def uptime(self):
        """Seconds since start, monotonic across the ticks wrap (called often, so each ticks_diff
        spans far less than the wrap); seconds stay small ints for decades, where milliseconds
        would turn into big ints."""
        t = self.t
        d = self.ticks.ticks_diff(self.ticks.ticks_ms(), t[_UP_AT]) // 1000
        if d > 0:
            t[_UP] += d
            t[_UP_AT] = self.ticks.ticks_add(t[_UP_AT], d * 1000)
        return t[_UP]

    def idle(self):
        """Cheap housekeeping, also from inside the driver's waits (scan, join, answers):
        watchdog, buttons, screen.  No network here: a slow server must not hold the UART
        unread while the meter is talking (the ESP32's UART buffer is small)."""
        now = self.ticks.ticks_ms()
        t = self.t
        if self.busy or self.ticks.ticks_diff(now, t[_IDLE]) < _IDLE_MS:
            return
        self.busy = True
        t[_IDLE] = now
        view = self.view
        try:
            if self.hw.wdt is not None:
                self.hw.wdt.feed()
            p = self.pressed
            self.pressed = 0
            if p & 2:
                view.toggle_backlight()
            if p & 1:
                view.flip()
            if p & 4:
                if self.chart is None:
                    self._new_chart(now)
                view.set_page((view.page + 1) % 3, self)
                t[_PAGE] = now
            up = self.uptime()
            view.update(self.vals, self.times, up)
            if view.page and self.ticks.ticks_diff(now, t[_PAGE]) >= _PAGE_MS:
                t[_PAGE] = now
                view.show()
            if up // 60 != t[_NIGHT]:
                # once a minute: the wall clock read (which re-bases it, so it never sees the
                # ticks wrap, meter or not) and the night schedule
                t[_NIGHT] = up // 60
                local = self.wall.local()
                night = self.cfg.night
                if night and local is not None:
                    m = local // 60 % 1440
                    a, b = night[0], night[1]
                    view.set_night(a <= m < b if a <= b else (m >= a or m < b))
        except Exception as e:      # housekeeping must never break a meter wait
            self._error('idle', e)
        finally:
            self.busy = False

    def _error(self, name, e):
        """Log and keep (masked) for the diagnostics page; -> the masked message."""
        self.log.error('%s: %s', name, e)
        e = mask(str(e), self.cfg.secrets())
        self.last_error = name + ': ' + e
        return e

    def _wifi_ok(self):
        try:
            return bool(self.hw.wifi_connected())
        except Exception:
            return False

    def _network(self, now):
        """From the main loop only: Wi-Fi watch, NTP, Ambient, MQTT, heap figures."""
        t = self.t
        r = self.retry
        if self._wifi_ok():
            t[_WIFI_DOWN] = None
        elif t[_WIFI_DOWN] is None:
            t[_WIFI_DOWN] = now
            r[_WIFI].wait(now, _WIFI_GRACE_MS)
        elif r[_WIFI].ready(now):
            self.log.warning('Wi-Fi down: reconnecting')
            try:
                self.hw.wifi_reconnect()
            except Exception as e:
                self.log.warning('Wi-Fi reconnect: %s', e)
            r[_WIFI].failed(now)
        if r[_NTP].ready(now):
            utc = None
            if t[_WIFI_DOWN] is None:
                try:
                    utc = self.hw.ntp()
                except Exception as e:
                    self.log.warning('NTP failed: %s', e)
            if utc is not None and self.wall.set_utc(utc, 2):
                self.log.info('time from NTP')
                r[_NTP].wait(now, 86400000)      # resync daily
            else:
                r[_NTP].failed(now)
        if self.ambient is not None:
            # the wall time only when something is queued (big ints allocate on the device)
            self.ambient.service(self.wall.utc_ms() if self.ambient.queued else None)
        if self.mqtt is not None:
            self.mqtt.service(now)
        if self.ticks.ticks_diff(now, t[_HEAP]) >= _HEAP_MS:
            t[_HEAP] = now
            self._heap()

    def _heap(self):
        """Free heap and the largest free block, for the log and the diagnostics page (at start
        and hourly only: finding the largest block takes several collections)."""
        gc.collect()
        self.heap = self.hw.heap()
        self.log.info('heap: %d bytes free, largest block %d', *self.heap)

    # ---- meter ------------------------------------------------------------------------------

    def _on_inf(self, props):
        """The meter's 30-minute push of EA: the chart's half-hour point; meter time fallback."""
        for epc, edt in props:
            if epc != 0xEA:
                continue
            try:
                stamp, count = echonet.decode(0xEA, edt)
                y, mo, d, h, mi, s = stamp
                t = to_epoch(y, mo, d, h, mi, s)
                # a garbled stamp must not reach the calendar code: a real date and time comes
                # back unchanged from the seconds it gives (2016 to 2099)
                if from_epoch(t)[:6] != stamp or not 2016 <= y <= 2099:
                    continue
            except Exception:
                continue
            if not self.wall.valid:
                self.wall.set_local(t)
            if self.today is not None and count is not None and self.chart is not None:
                slot = h * 2 + (mi >= 30)
                if (y, mo, d) == self.today:
                    self.chart[0][slot] = count
                elif slot == 0 and days_from_civil(y, mo, d) == days_from_civil(*self.today) + 1:
                    self.chart[0][48] = count

    def _on_reset(self):
        """The session's last resort.  The app decides: not within 15 min of boot, and not more
        than 3 times in a row without a reading in between (a meter gone for good, such as a
        cancelled B route, must not cost a reset and a full scan every 15 minutes for ever)."""
        b = self.boots
        if self.uptime() < _MIN_UPTIME_S or b[1] >= _MAX_RESETS:
            self.log.warning('no device reset (%d in a row, up %d s)', b[1], self.uptime())
            return
        self.log.error('meter unreachable: resetting the device')
        b[1] += 1
        self.file[0].save(b)
        if self.ambient is not None:
            self.ambient.flush()        # RAM records to flash: nothing lost
        if self.mqtt is not None:
            self.mqtt.close()           # retained "offline"
        self.hw.reset()

    def connect(self):
        def progress(pct, text):
            self.view.progress(pct, text)
            self.idle()
        self.view.progress(0, 'Wi-SUN')
        s = self.session
        try:
            s.connect(progress)
        except Exception as e:      # MeterError says what to check; anything else: the same back-off
            self.view.error('Meter not connected', self._error('meter', e))
            return False
        self.log.info('joined: ch %d LQI %s D3 %s E1 %s D7 %s', s.pan['channel'], s.lqi,
                      s.coefficient, s.unit, s.digits)
        self._check_meter()
        if not self.wall.valid:
            v = s.read((0x98, 0x97))
            if v and v.get(0x98) and v.get(0x97):
                if self.wall.set_local(to_epoch(*(v[0x98] + v[0x97]))):
                    self.log.info('time from the meter')
        self.due |= 1
        self.view.main()
        return True

    def _check_meter(self):
        """After every (re)join: a replaced meter (new MAC) counts from its own origin, so the
        saved period start means nothing for it."""
        s = self.session
        meter_id = s.pan['addr'] if s.pan else None
        if meter_id != self.meter_id:
            if self.meter_id is not None:
                self.log.warning('new meter %s: the period starts again', meter_id)
                self.billing = BillingPeriod(self.cfg.collect_date)
                self.file[1].clear()
                self.today = None
                self.due |= 1
            self.meter_id = meter_id
        if s.units_known and 1 <= s.digits <= 8:
            self.billing.digits = s.digits

    def _history(self, now):
        """The meter's history (SetC E5 = days back, Get E2), asked again with back-off while
        the meter does not answer: the period's start count (at start and when the period
        rolls over), and yesterday's and today's half-hour counts for the chart."""
        s = self.session
        b = self.billing
        if self.due & 1 and self.retry[_HISTORY].ready(now):
            local = self.wall.local()
            if b.update(local):
                self.log.info('billing period from %s', ymd_text(b.start))
            day = b.wanted_day(local)
            if day is not None:
                hist = s.read_history(day)
                if hist is not None and b.take_history(hist, local):
                    self._save_baseline()
                    self.retry[_HISTORY].wait(now, 0)     # the doubling starts again
                else:
                    self.retry[_HISTORY].failed(now)
            if b.wanted_day(local) is None:
                self.due &= 2
        if self.due & 2 and self.retry[_CHART].ready(now):
            chart = self.chart
            self.due &= 1
            for day in (1, 0):
                hist = s.read_history(day)
                if hist is None or hist[0] != day:
                    self.due |= 2
                    continue
                for i in range(48):
                    if hist[1][i] is not None:
                        chart[day][i] = hist[1][i]
            if chart[0][0] is not None:
                chart[1][48] = chart[0][0]
            if self.due & 2:
                self.retry[_CHART].failed(now)

    def _new_chart(self, now):
        """Empty chart days, to be read from the meter's history at the next refresh."""
        self.chart = [[None] * 49, [None] * 49]
        self.due |= 2
        self.retry[_CHART].wait(now, 0)

    def _save_baseline(self):
        b = self.billing.baseline()
        if b is not None:
            b['meter'] = self.meter_id
            self.file[1].save(b)         # writes only when it changed

    def _refresh(self, epcs):
        s = self.session
        values = s.read(epcs)
        if values is None:
            return False
        self._check_meter()
        if self.boots[1]:               # a reading: the resets in a row are over
            self.boots[1] = 0
            self.file[0].save(self.boots)
        up = self.uptime()
        vals = self.vals
        vals[0] = values.get(0xE8)
        vals[1] = values.get(0xE7)
        self.times[0] = self.times[1] = up
        count = values.get(0xE0)
        if count is None:
            return True
        vals[_IMPORT] = s.kwh(count)
        vals[_EXPORT] = s.kwh(values.get(0xE3))
        local = self.wall.local()
        if local is None or not s.units_known:
            return True                 # no kWh with guessed D3/E1, no period without a date
        b = self.billing
        if b.update(local):
            self.due |= 1
        kwh = s.kwh(b.count(count))
        if kwh is not None and kwh > _IMPLAUSIBLE_KWH:
            # a counter that jumped (replaced meter, reset counter): start the period figure
            # again from this reading instead of showing a bill of millions
            self.log.warning('period %d kWh impossible: counting again', kwh)
            b = self.billing = BillingPeriod(self.cfg.collect_date, b.digits)
            b.update(local)
            kwh = s.kwh(b.count(count))
            self.due |= 1
        self._save_baseline()
        if kwh is None:
            return True
        vals[3] = kwh
        vals[4] = self.cfg.charge(self.cfg.contract_amperage, kwh)
        vals[2] = (b.start, from_epoch(local)[:3])
        self.times[2] = self.times[3] = self.times[4] = up
        return True

    # ---- main loop --------------------------------------------------------------------------

    def start(self):
        """Connect (the screen shows progress), then arm the watchdog and the schedule."""
        self.log.info('SmartMeter starting (boot %d)', self.boots[0])
        self._heap()
        self.connected = self.connect()
        if not self.connected:
            self.retry[_CONNECT].failed(self.ticks.ticks_ms())
        try:
            self.hw.arm_wdt()                # armed only after start-up (a long first scan)
        except Exception as e:
            self._error('watchdog', e)
        now = self.ticks.ticks_ms()
        self.t[_REFRESH] = now
        self.t[_UPLOAD] = self.ticks.ticks_add(now, _AMBIENT_MS)

    def run(self):
        self.start()
        while True:
            self.step()

    def _due(self, now, i, period):
        """True when the time t[i] has come; it then advances by whole periods (drift-free,
        the slots missed in a long recovery skipped)."""
        d = self.ticks.ticks_diff(now, self.t[i])
        if d < 0:
            return False
        self.t[i] = self.ticks.ticks_add(self.t[i], (d // period + 1) * period)
        return True

    def step(self):
        """One pass of the main loop; never raises (errors are logged, counted and shown)."""
        ticks = self.ticks
        t = self.t
        try:
            now = ticks.ticks_ms()
            if not self.connected:
                if self.retry[_CONNECT].ready(now):
                    self.connected = self.connect()
                    if self.connected:
                        self.retry[_CONNECT].wait(now, 0)
                        t[_REFRESH] = now           # the schedule starts again after a connect
                        self.n = 0
                    else:
                        self.retry[_CONNECT].failed(now)
            else:
                if self._due(now, _REFRESH, _INSTANT_MS):
                    if self.wall.valid:
                        today = from_epoch(self.wall.local())[:3]
                        if today != self.today:     # midnight: both chart days read again
                            self.today = today
                            if self.chart is not None:
                                self._new_chart(now)
                        if self.due:
                            self._history(now)
                    self.n += 1
                    if self._refresh((0xE7, 0xE8, 0xE0, 0xE3) if self.n % 6 == 1 or self.vals[3] is None
                                     else (0xE7, 0xE8)) and self.mqtt:
                        # lib/mqttpub.py's order: W, R A, T A, import, export, period kWh and yen,
                        # LQI, RSSI, period start, UTC seconds
                        a, w, per, kwh, yen, imp, exp = self.vals
                        a = a or (None, None)
                        s = self.session
                        self.mqtt.publish_state((w, a[0], a[1], imp, exp, kwh, yen, s.lqi, s.rssi,
                                                 ymd_text(per[0]) if per else None, self.wall.utc()))
                    self.view.update(self.vals, self.times, self.uptime())   # at once
                self.session.poll(0)        # INF pushes and events between refreshes
            if self._due(now, _UPLOAD, _AMBIENT_MS) and self.ambient:
                # a record of the latest readings (lib/ambient.py maps them to d1..d8)
                self.ambient.reading(self.vals, self.wall.utc_ms(), self.cfg.ambient_fields)
            self.idle()
            self._network(ticks.ticks_ms())
            left = ticks.ticks_diff(t[_REFRESH], ticks.ticks_ms()) if self.connected else _SLICE_MS
            ticks.sleep_ms(max(1, min(_SLICE_MS, left)))
        except MemoryError as e:
            gc.collect()
            self._error('memory', e)
        except Exception as e:
            self._error('loop', e)
            ticks.sleep_ms(_SLICE_MS)
