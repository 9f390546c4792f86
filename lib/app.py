"""The SmartMeter app: schedule, time, billing, screen and uploads, wired to the meter session.

`App(hw, cfg, log)` is handed every piece of hardware by apps/SMM.py in `hw` and the checked
config; it creates none of them.  `hw` has: uart, lcd, btnA, btnB, ticks (utime-like), flash
(root folder), wifi_connected(), wifi_reconnect(), ntp() -> UTC seconds, wdt (None until armed)
and arm_wdt(), reset(), socket and select modules, mqtt_simple (umqtt.simple or None),
mem_free(), backlight(percent), device_id.

A drift-free schedule on ticks: current and power every 10 s (one request E7+E8; once a minute
the same request also carries E0/E3 for this period's kWh and bill), an Ambient record every
30 s, an MQTT state on every refresh.  Long waits inside the driver (scan, join, answers) call
`idle()`, which keeps the watchdog, buttons and screen alive but does no network I/O (a slow
server must not leave the UART unread); Wi-Fi, NTP, Ambient and MQTT are served from the main
loop.  No step raises out of `step()`: errors are logged, counted and shown, and the loop goes
on (no crash loop).  Secrets never reach the log, the screen or the uploads.
"""

try:
    import gc
except ImportError:  # pragma: no cover
    gc = None

from compat import const
import timeutil
from clock import WallClock, SOURCE_NTP
from store import JsonStore
from bp35a1 import Bp35a1, SkError
from meter import MeterSession, MeterError
from billing import BillingPeriod, ymd_text
import echonet
from view import View
from ambient import Ambient, AmbientQueue
from mqttpub import MqttPublisher, TimedSockets, install_sockets

INSTANT_MS = const(10000)
PERIOD_MS = const(60000)
AMBIENT_MS = const(30000)
SLICE_MS = const(50)          # longest sleep of the main loop: buttons answer within this
IDLE_EVERY_MS = const(200)    # housekeeping during long driver waits
LONG_RELEASE_MS = const(1500)  # a release this soon after a long press belongs to it
MIN_UPTIME_FOR_RESET_S = const(900)
AMBIENT_TIMEOUT_S = const(4)  # every socket step; the whole exchange is bounded too
MQTT_TIMEOUT_S = const(3)
WIFI_GRACE_MS = const(120000)  # Wi-Fi down this long: ask the firmware to reconnect
MAX_RESETS_WITHOUT_DATA = const(3)
IMPLAUSIBLE_PERIOD_KWH = const(20000)  # no home uses 20 MWh in one billing period


class Every:
    """A drift-free period on ticks: due times advance by the period, not from 'now'."""

    def __init__(self, ticks, period_ms, start_now=True):
        self.ticks = ticks
        self.period = period_ms
        now = ticks.ticks_ms()
        self.next = now if start_now else ticks.ticks_add(now, period_ms)

    def due(self, now):
        if self.ticks.ticks_diff(now, self.next) < 0:
            return False
        self.next = self.ticks.ticks_add(self.next, self.period)
        if self.ticks.ticks_diff(now, self.next) >= 0:
            # Far behind (a long recovery): skip the missed slots instead of bursting.
            late = self.ticks.ticks_diff(now, self.next) // self.period + 1
            self.next = self.ticks.ticks_add(self.next, late * self.period)
        return True

    def ms_left(self, now):
        return self.ticks.ticks_diff(self.next, now)


class Backoff:
    """Retry delays that double from `first_ms` up to `cap_ms`."""

    def __init__(self, ticks, first_ms, cap_ms):
        self.ticks = ticks
        self.first = first_ms
        self.cap = cap_ms
        self.delay = first_ms
        self.at = ticks.ticks_ms()

    def ready(self, now):
        # Once due it stays due (at = None): a deadline left unchecked for days would read
        # wrongly after the ticks wrap (2^30 ms on the ESP32).
        if self.at is None:
            return True
        if self.ticks.ticks_diff(now, self.at) >= 0:
            self.at = None
            return True
        return False

    def failed(self, now):
        self.at = self.ticks.ticks_add(now, self.delay)
        self.delay = min(self.delay * 2, self.cap)

    def succeeded(self, now, next_ms=None):
        self.delay = self.first
        self.at = self.ticks.ticks_add(now, next_ms if next_ms is not None else self.first)


class Readings:
    """The latest values and when (ticks) each arrived."""

    def __init__(self):
        self.power_w = None
        self.current_r_a = None
        self.current_t_a = None
        self.instant_at = None
        self.import_count = None
        self.export_count = None
        self.period_kwh = None
        self.period_yen = None
        self.export_kwh = None
        self.import_kwh = None
        self.period_at = None
        self.period_start = None

    @property
    def current_a(self):
        if self.current_r_a is None and self.current_t_a is None:
            return None
        return (self.current_r_a or 0) + (self.current_t_a or 0)


class Mono:
    """Monotonic seconds since start from wrapping ticks (called often, so never ambiguous)."""

    def __init__(self, ticks):
        self.ticks = ticks
        self._last = ticks.ticks_ms()
        self._ms = 0

    def ms(self):
        now = self.ticks.ticks_ms()
        self._ms += self.ticks.ticks_diff(now, self._last)
        self._last = now
        return self._ms

    def s(self):
        return self.ms() // 1000


class App:
    def __init__(self, hw, cfg, log):
        self.hw = hw
        self.cfg = cfg
        self.log = log
        self.ticks = hw.ticks
        night = cfg.display['night']
        self.view = View(hw.lcd, backlight=hw.backlight, contract_a=cfg.contract_amperage,
                         night_level=night['brightness'] if night else 20)
        self.wall = WallClock(hw.ticks, cfg.tz_offset)
        self.readings = Readings()
        self.mono = Mono(hw.ticks)
        self.screen = {}                      # what view.update() shows: key -> (value, mono_s)
        self.tariff = cfg.charge
        root = hw.flash
        self.boot_store = JsonStore(root + '/smm_boots.json')
        st = self.boot_store.load()
        if not isinstance(st, dict):
            st = {}
        self.boots = int(st.get('boots', 0) or 0) + 1
        self.resets_without_data = int(st.get('resets_without_data', 0) or 0)
        self._save_boots()
        self.baseline_store = JsonStore(cfg.baseline_file)
        saved = self.baseline_store.load()
        # The meter (MAC) the saved period start belongs to: a replaced meter must not inherit it.
        self.meter_id = saved.get('meter') if isinstance(saved, dict) else None
        self.billing = BillingPeriod(cfg.collect_date, baseline=saved)
        if self.billing.baseline_error:
            log.warning('saved billing baseline ignored: %s', self.billing.baseline_error)
        self.driver = Bp35a1(hw.uart, hw.ticks, log=log.child('wisun'),
                             idle=self.idle)
        self.session = MeterSession(self.driver, hw.ticks, cfg.rbid, cfg.password,
                                    cache=JsonStore(cfg.scan_cache), settings=cfg.recovery,
                                    log=log.child('meter'), on_inf=self._on_inf,
                                    on_reset=self._on_reset_request)
        self.ambient = self._make_ambient()
        self.mqtt = self._make_mqtt()
        self._pressed = {'a': False, 'a_long': False, 'b': False}
        self._long_at = None
        self._last_idle = self.ticks.ticks_ms()
        self._in_idle = False
        self.errors = 0
        self.last_error = None
        self.ntp = Backoff(self.ticks, 1000, 3600000)
        self.connect_backoff = Backoff(self.ticks, 30000, 600000)
        self.connected = False
        self.today = None                    # (y, m, d) of the chart's "today"
        self.chart_today = [None] * 49       # cumulative counts at 00:00 ... 24:00
        self.chart_yesterday = [None] * 49
        self.history_due = True
        self.history_retry = Backoff(self.ticks, 60000, 1800000)
        self.chart_due = True
        self.chart_retry = Backoff(self.ticks, 60000, 1800000)
        self.night = False
        self._night_minute = -1
        self.wifi_down_since = None
        self.wifi_retry = Backoff(self.ticks, WIFI_GRACE_MS, 1800000)
        self.got_data = False
        self._bind_buttons()

    # ---- wiring -----------------------------------------------------------------------------

    def _make_ambient(self):
        a = self.cfg.ambient
        if not a or self.hw.socket is None:
            return None
        client = Ambient(a['channel_id'], a['write_key'], url=a['url'], socket_module=self.hw.socket,
                         timeout=AMBIENT_TIMEOUT_S, clock=self.ticks, select_module=self.hw.select)
        return AmbientQueue(client, self.ticks, store_path=self.hw.flash + '/smm_ambient',
                            log=self.log.child('ambient'), wifi_ok=self._wifi_ok)

    def _make_mqtt(self):
        m = self.cfg.mqtt
        simple = self.hw.mqtt_simple
        if not m or not m.get('host') or simple is None:
            return None
        install_sockets(simple, TimedSockets(self.hw.socket, MQTT_TIMEOUT_S, self.hw.select))
        mlog = self.log.child('mqtt')
        return MqttPublisher(simple.MQTTClient, m, self.ticks, log=mlog.info,
                             device_id=self.hw.device_id, utc_offset_s=self.cfg.tz_offset)

    def _bind_buttons(self):
        hw = self.hw
        if hw.btnA is not None:
            hw.btnA.wasReleased(self._on_a)
            hw.btnA.pressFor(0.8, self._on_a_long)
        if hw.btnB is not None:
            hw.btnB.wasReleased(self._on_b)

    def _on_a(self):
        # Firmware that reports a release after a long press must not flip the screen too.
        long_at = self._long_at
        self._long_at = None
        if long_at is not None and self.ticks.ticks_diff(self.ticks.ticks_ms(), long_at) < LONG_RELEASE_MS:
            return
        self._pressed['a'] = True

    def _on_a_long(self):
        self._long_at = self.ticks.ticks_ms()
        self._pressed['a_long'] = True

    def _on_b(self):
        self._pressed['b'] = True

    def _buttons(self):
        p = self._pressed
        if p['a_long']:
            p['a_long'] = False
            self.view.toggle_backlight()
        if p['a']:
            p['a'] = False
            self.view.flip()
        if p['b']:
            p['b'] = False
            self._refresh_pages()
            self.view.next_page()

    def _error(self, where, err):
        self.errors += 1
        self.log.error('%s: %s', where, err)
        self.last_error = self.log.last_error      # the logger's copy is masked

    # ---- idle work (also called from inside long driver waits) ------------------------------

    def idle(self):
        """Cheap housekeeping, also from inside the driver's waits (scan, join, answers):
        watchdog, buttons, screen.  No network here: a slow server must not hold the UART
        unread while the meter is talking (the ESP32's UART buffer is small)."""
        now = self.ticks.ticks_ms()
        if self._in_idle or self.ticks.ticks_diff(now, self._last_idle) < IDLE_EVERY_MS:
            return
        self._in_idle = True
        self._last_idle = now
        try:
            if self.hw.wdt is not None:
                self.hw.wdt.feed()
            self._buttons()
            self._screen()
        except Exception as e:  # housekeeping must never break a meter wait
            self._error('idle', e)
        finally:
            self._in_idle = False

    def _network(self, now):
        """Network housekeeping, from the main loop only: Wi-Fi, NTP, Ambient, MQTT."""
        self._wifi_watch(now)
        self._time_sync(now)
        self._uploads(now)

    def _wifi_watch(self, now):
        if self._wifi_ok():
            self.wifi_down_since = None
            return
        if self.wifi_down_since is None:
            self.wifi_down_since = now
            self.wifi_retry.succeeded(now, WIFI_GRACE_MS)
            return
        if self.wifi_retry.ready(now) and self.hw.wifi_reconnect is not None:
            self.log.warning('Wi-Fi down: reconnecting')
            try:
                self.hw.wifi_reconnect()
            except Exception as e:
                self.log.warning('Wi-Fi reconnect: %s', e)
            self.wifi_retry.failed(now)

    def _wifi_ok(self):
        try:
            return bool(self.hw.wifi_connected())
        except Exception:
            return False

    def _time_sync(self, now):
        if not self.ntp.ready(now):
            return
        if not self._wifi_ok():
            self.ntp.failed(now)
            return
        try:
            utc = self.hw.ntp()
        except Exception as e:
            self.log.warning('NTP failed: %s', e)
            self.ntp.failed(now)
            return
        if utc is not None and self.wall.set_utc(utc, SOURCE_NTP):
            self.log.info('time from NTP')
            self.ntp.succeeded(now, 86400000)   # resync daily
        else:
            self.ntp.failed(now)

    def _uploads(self, now):
        if self.ambient is not None:
            # the wall time only when something is queued (big ints allocate on the device)
            self.ambient.service(self.wall.utc_ms() if self.ambient.queued else None)
        if self.mqtt is not None:
            self.mqtt.service(now)

    # ---- meter ------------------------------------------------------------------------------

    def _on_inf(self, frame):
        """30-minute push of EA (and EB): the chart's half-hour point; meter time fallback."""
        for epc, edt in frame.props:
            if epc != 0xEA:
                continue
            try:
                stamp, count = echonet.decode(0xEA, edt)
            except Exception:
                continue
            y, mo, d, h, mi, sec = stamp
            if not (2016 <= y <= 2099 and 1 <= mo <= 12 and 1 <= d <= timeutil.days_in_month(y, mo)
                    and 0 <= h <= 23 and 0 <= mi <= 59 and 0 <= sec <= 59):
                continue            # a garbled timestamp must not reach the calendar code
            if not self.wall.valid:
                y, mo, d, h, mi, s = stamp
                self.wall.set_local(timeutil.to_epoch(y, mo, d, h, mi, s))
            self._chart_point(stamp, count)

    def _chart_point(self, stamp, count):
        y, mo, d, h, mi, _ = stamp
        if self.today is None or count is None:
            return
        slot = h * 2 + (1 if mi >= 30 else 0)
        if (y, mo, d) == self.today:
            self.chart_today[slot] = count
        elif slot == 0 and timeutil.days_from_civil(y, mo, d) == timeutil.days_from_civil(*self.today) + 1:
            self.chart_today[48] = count

    def _save_boots(self):
        self.boot_store.save({'boots': self.boots, 'resets_without_data': self.resets_without_data})

    def _on_reset_request(self):
        """The session's last step.  The app decides: not within 15 min of boot, and not more
        than 3 times in a row without a reading in between (a meter gone for good, such as a
        cancelled B route, must not cost a reset and a full scan every 15 minutes for ever)."""
        up = self.mono.s()
        if up < MIN_UPTIME_FOR_RESET_S:
            self.log.warning('reset requested after %d s of uptime: not resetting (loop guard)', up)
            return
        if self.resets_without_data >= MAX_RESETS_WITHOUT_DATA:
            self.log.error('meter unreachable after %d resets: not resetting again',
                           self.resets_without_data)
            return
        self.log.error('meter unreachable: resetting the device')
        self.resets_without_data += 1
        self._save_boots()
        if self.ambient is not None:
            self.ambient.flush()        # RAM records to flash: nothing lost
        if self.mqtt is not None:
            self.mqtt.close()           # retained "offline"
        self.hw.reset()

    def connect(self):
        self.view.progress(0, 'Wi-SUN')

        def progress(pct, text):
            self.view.progress(pct, text)
            self.idle()

        try:
            self.session.connect(progress)
        except (MeterError, SkError) as e:
            self._error('meter', e)
            self.view.error('Meter not connected', str(e))
            return False
        except Exception as e:      # anything else: the same back-off, never a tight retry loop
            self._error('connect', e)
            self.view.error('Meter not connected', self.last_error or 'error')
            return False
        s = self.session
        self.log.info('joined: channel %d, LQI %s, coefficient %s, unit %s kWh, digits %s',
                      s.pan.channel, s.lqi, s.coefficient, s.unit, s.digits)
        self._check_meter()
        if not self.wall.valid:
            self._time_from_meter()
        self.history_due = True
        return True

    def _check_meter(self):
        """After every (re)join: a replaced meter (new MAC) counts from its own origin, so the
        saved period start means nothing for it."""
        s = self.session
        meter_id = s.pan.addr if s.pan is not None else None
        if meter_id == self.meter_id:
            if self.billing.digits != s.digits and 1 <= s.digits <= 8:
                self.billing.digits = s.digits
            return
        if self.meter_id is not None:
            self.log.warning('the meter changed (%s): billing period starts again', meter_id)
            self.billing = BillingPeriod(self.cfg.collect_date)
            self.baseline_store.clear()
            self.today = None
            self.history_due = True
        self.meter_id = meter_id
        self.billing.digits = s.digits if 1 <= s.digits <= 8 else 8

    def _time_from_meter(self):
        values = self.session.read((0x98, 0x97))
        if values and values.get(0x98) and values.get(0x97):
            if self.wall.set_from_meter(values[0x98], values[0x97]):
                self.log.info('time from the meter (NTP not yet available)')

    def _history(self):
        """At start and when the period rolls over: the period's start count from E2 (E5 =
        days back), asked again with back-off while the meter does not answer."""
        now_local = self.wall.local()
        if now_local is None:
            return
        if self.billing.update(now_local):
            self.log.info('billing period from %s', ymd_text(self.billing.start))
        want = self.billing.wanted_day(now_local)
        if want is not None:
            hist = self.session.read_history(want)
            if hist is not None and self.billing.take_history(hist, now_local):
                self._save_baseline()
                self.history_retry.succeeded(self.ticks.ticks_ms(), 0)
            elif self.billing.wanted_day(now_local) is not None:
                # Not answered (or no data for that day yet): ask again later, backing off.
                self.history_retry.failed(self.ticks.ticks_ms())
        self.history_due = self.billing.wanted_day(now_local) is not None

    def _new_day(self, today):
        """Midnight (local): the chart's today becomes yesterday; both are read again from E2."""
        self.today = today
        self.chart_today = [None] * 49
        self.chart_yesterday = [None] * 49
        self.chart_due = True
        self.chart_retry.succeeded(self.ticks.ticks_ms(), 0)

    def _chart_history(self):
        """Today's and yesterday's half-hour counts for the chart page (E2 days 0 and 1)."""
        ok = True
        for day, target in ((1, self.chart_yesterday), (0, self.chart_today)):
            hist = self.session.read_history(day)
            if hist is None or hist[0] != day:
                ok = False
                continue
            counts = hist[1]
            for i in range(48):
                if counts[i] is not None:
                    target[i] = counts[i]
        if self.chart_today[0] is not None:
            self.chart_yesterday[48] = self.chart_today[0]
        if ok:
            self.chart_due = False
        else:
            self.chart_retry.failed(self.ticks.ticks_ms())

    def _save_baseline(self):
        b = self.billing.baseline()
        if b is not None:
            b['meter'] = self.meter_id
            self.baseline_store.save(b)      # writes only when it changed

    def _refresh(self, with_period):
        epcs = (0xE7, 0xE8, 0xE0, 0xE3) if with_period else (0xE7, 0xE8)
        values = self.session.read(epcs)
        if values is None:
            return False
        self._check_meter()
        if not self.got_data:
            self.got_data = True
            if self.resets_without_data:
                self.resets_without_data = 0
                self._save_boots()
        r = self.readings
        now = self.ticks.ticks_ms()
        amps = values.get(0xE8) or (None, None)
        r.power_w = values.get(0xE7)
        r.current_r_a, r.current_t_a = amps
        r.instant_at = now
        t = self.mono.s()
        self.screen['current_a'] = (amps, t)
        self.screen['power_w'] = (r.power_w, t)
        if with_period:
            self._period(values, now)
        return True

    def _period(self, values, now):
        r = self.readings
        s = self.session
        count = values.get(0xE0)
        if count is None:
            return
        r.import_count = count
        r.import_kwh = s.kwh(count)
        r.export_count = values.get(0xE3)
        r.export_kwh = s.kwh(r.export_count)
        now_local = self.wall.local()
        if now_local is None:
            return
        if self.billing.update(now_local):
            self.history_due = True
        if not s.units_known:
            return                      # no kWh with guessed D3/E1
        kwh = self.billing.kwh(count, s.coefficient, s.unit)
        if kwh is not None and kwh > IMPLAUSIBLE_PERIOD_KWH:
            # A counter that jumped (a replaced meter, a reset counter): start the period figure
            # again from this reading instead of showing a bill of millions.
            self.log.warning('period figure of %d kWh is impossible: starting it again', kwh)
            self.billing = BillingPeriod(self.cfg.collect_date, digits=self.billing.digits)
            self.billing.update(now_local)
            kwh = self.billing.kwh(count, s.coefficient, s.unit)
            self.history_due = True
        self._save_baseline()
        if kwh is None:
            return
        r.period_kwh = kwh
        r.period_yen = self.tariff(self.cfg.contract_amperage, kwh)
        r.period_start = self.billing.start
        r.period_at = now
        t = self.mono.s()
        today = timeutil.from_epoch(now_local)[:3]
        self.screen['period'] = ((self.billing.start, today), t)
        self.screen['monthly_kwh'] = (kwh, t)
        self.screen['fee_yen'] = (r.period_yen, t)

    # ---- output -----------------------------------------------------------------------------

    def _record(self):
        """An Ambient record from the latest readings (None when there is nothing to send)."""
        r = self.readings
        utc_ms = self.wall.utc_ms()
        if utc_ms is None or r.instant_at is None:
            return None
        rec = {'created': utc_ms}
        f = self.cfg.ambient_fields.get
        for name, value in (('current', r.current_a), ('power', None if r.power_w is None else r.power_w / 1000.0),
                            ('period_kwh', r.period_kwh), ('period_yen', r.period_yen),
                            ('export_kwh', r.export_kwh), ('import_kwh', r.import_kwh)):
            slot = f(name)
            if slot and value is not None:
                rec[slot] = value
        return rec

    def _state_doc(self):
        r = self.readings
        s = self.session
        doc = {
            'power_w': r.power_w, 'current_r_a': r.current_r_a, 'current_t_a': r.current_t_a,
            'import_kwh': r.import_kwh, 'period_kwh': r.period_kwh, 'period_yen': r.period_yen,
            'period_start': ymd_text(r.period_start) if r.period_start else None,
            'lqi': s.lqi, 'timestamp': self.wall.utc(),
        }
        if r.export_kwh is not None:
            doc['export_kwh'] = r.export_kwh
        return doc

    def _screen(self):
        if self.screen:
            self.view.update(self.screen, self.mono.s())
        else:
            self.view.tick(self.mono.s())
        self._night()

    def _night(self):
        sched = self.cfg.night
        if not sched:
            return
        minute = self.mono.s() // 60
        if minute == self._night_minute:
            return                      # once a minute is enough
        self._night_minute = minute
        parts = self.wall.local_parts()
        if parts is None:
            return
        minute = parts[3] * 60 + parts[4]
        start, end = sched
        night = (start <= minute < end) if start <= end else (minute >= start or minute < end)
        if night != self.night:
            self.night = night
            self.view.set_night(night)

    def _refresh_pages(self):
        self.view.set_chart(self._half_hours(self.chart_today), self._half_hours(self.chart_yesterday))
        self.view.set_diag(self.diagnostics())

    def _half_hours(self, cum):
        s = self.session
        out = [None] * 48
        for i in range(48):
            a, b = cum[i], cum[i + 1]
            if a is not None and b is not None:
                out[i] = s.kwh((b - a) % (10 ** s.digits))
        return out

    def diagnostics(self):
        s = self.session
        up = self.mono.s()
        d = {
            'channel': s.pan.channel if s.pan else None, 'lqi': s.lqi, 'rssi': s.rssi,
            'uptime_s': up, 'last_error': self.last_error or self.log.last_error,
            'resets': self.boots - 1, 'time': self.wall.source_name,
            'export_kwh': self.readings.export_kwh,
        }
        if self.ambient is not None:
            st = self.ambient.stats()
            d['queued'] = st.get('queued')
            d['dropped'] = st.get('dropped')
        if self.mqtt is not None:
            st = self.mqtt.stats()
            d['mqtt'] = 'online' if st.get('connected') else 'offline'
        if self.hw.mem_free is not None:
            try:
                d['free_heap'] = self.hw.mem_free()
            except Exception:
                pass
        d['wifi'] = 'up' if self._wifi_ok() else 'down'
        return d

    # ---- main loop --------------------------------------------------------------------------

    def start(self):
        """Connect (the screen shows progress), then arm the watchdog and the schedule."""
        self.log.info('SmartMeter starting (boot %d)', self.boots)
        self.view.progress(0, 'starting')
        self.connected = self.connect()
        if not self.connected:
            self.connect_backoff.failed(self.ticks.ticks_ms())
        if self.hw.arm_wdt is not None:
            self.hw.arm_wdt()                 # armed only after start-up (field problem 13)
        self._schedule()
        self.upload = Every(self.ticks, AMBIENT_MS, start_now=False)

    def _schedule(self):
        # (Re)started at every connect: a schedule left unchecked for days would misread the
        # wrapped ticks.
        self.instant = Every(self.ticks, INSTANT_MS)
        self.period = Every(self.ticks, PERIOD_MS)

    def run(self):
        self.start()
        while True:
            self.step()

    def step(self):
        """One pass of the main loop; never raises (errors are logged, counted and shown)."""
        try:
            now = self.ticks.ticks_ms()
            if not self.connected:
                if self.connect_backoff.ready(now):
                    self.connected = self.connect()
                    if self.connected:
                        self.connect_backoff.succeeded(now)
                        self._schedule()
                        self.view.redraw()
                    else:
                        self.connect_backoff.failed(now)
            elif self.instant.due(now):
                with_period = self.period.due(now)
                if self.wall.valid:
                    today = timeutil.from_epoch(self.wall.local())[:3]
                    if today != self.today:
                        self._new_day(today)
                    if self.history_due and self.history_retry.ready(now):
                        self._history()
                    if self.chart_due and self.chart_retry.ready(now):
                        self._chart_history()
                if self._refresh(with_period or self.readings.period_at is None):
                    if self.mqtt is not None:
                        self.mqtt.publish_state(self._state_doc())
                self._screen()
            if self.connected:
                self.session.poll(0)      # INF pushes and events between refreshes
            if self.upload.due(now) and self.ambient is not None:
                rec = self._record()
                if rec is not None:
                    self.ambient.add(rec)
            self.idle()
            self._network(self.ticks.ticks_ms())
            left = self.instant.ms_left(self.ticks.ticks_ms()) if self.connected else SLICE_MS
            self.ticks.sleep_ms(max(1, min(SLICE_MS, left)))
        except MemoryError as e:
            if gc is not None:
                gc.collect()
            self._error('memory', e)
        except Exception as e:
            self._error('loop', e)
            self.ticks.sleep_ms(SLICE_MS)


