# SmartMeter for the M5StickC (UIFlow 1.x) with a ROHM BP35A1 Wi-SUN HAT.
#
# The UIFlow app: thin wiring only.  It builds the hardware (UART, lcd, buttons, Wi-Fi, NTP,
# watchdog, sockets, MQTT client) and hands it to lib/app.py, which does the work.  Libraries
# live in /flash/lib (make deploy), the config in /flash/SmartMeter.json.  Nothing here talks
# to the meter, computes a bill or formats a number.
import sys

try:
    import uos as os
except ImportError:
    import os


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


# On the device the user file system is /flash; the desktop simulator runs this same file in a
# temporary folder laid out like /flash (make sim).
FLASH = '/flash' if _exists('/flash/lib') else '.'
if FLASH + '/lib' not in sys.path:
    sys.path.insert(0, FLASH + '/lib')

import gc
import machine
import utime
import usocket
from m5stack import lcd, btnA, btnB

import log as logmod

try:
    import uselect
except ImportError:
    uselect = None
try:
    import ussl
except ImportError:
    ussl = None
try:
    from m5stack import axp
except ImportError:
    axp = None

EPOCH_2000 = 946684800      # the ESP32's RTC counts seconds from 2000-01-01

WDT_TIMEOUT_MS = 120000
UART_RXBUF = 2048


class Hardware:
    """What lib/app.py is handed (see the App docstring)."""


def _wifi_connected():
    import wifiCfg
    for name in ('isconnected', 'is_connected'):
        fn = getattr(wifiCfg, name, None)
        if fn is not None:
            return fn()
    sta = getattr(wifiCfg, 'wlan_sta', None)
    return bool(sta and sta.isconnected())


def _wifi_start(cfg, logger):
    """Start Wi-Fi without blocking: UIFlow's saved network, or the one in SmartMeter.json.
    Never wifiCfg.autoConnect(lcdShow=True): it blocks forever when Wi-Fi fails."""
    try:
        import wifiCfg
        if cfg.wifi:
            wifiCfg.connect(cfg.wifi['ssid'], cfg.wifi['password'], 10000, block=False)
        else:
            wifiCfg.autoConnect(lcdShow=False)
    except Exception as e:
        logger.warning('Wi-Fi start: %s', e)


def _ntp(cfg):
    """UTC seconds since 1970 from NTP, through the firmware's ntptime."""
    import ntptime
    if hasattr(ntptime, 'client'):
        # UIFlow >= 1.6.2: sets the RTC to local time (whole timezone hours; a fractional zone
        # keeps the RTC on UTC).  Integers only: the ESP32's floats are single precision, and a
        # float near 1.7e9 s is only good to about two minutes.
        hours = cfg.tz_offset // 3600 if cfg.tz_offset % 3600 == 0 else 0
        ntptime.client(host=cfg.ntp_host, timezone=hours)
        return utime.time() + EPOCH_2000 - hours * 3600
    # micropython-lib's ntptime: sets the RTC to UTC.
    ntptime.host = cfg.ntp_host
    ntptime.settime()
    return utime.time() + EPOCH_2000


def _backlight(percent):
    if axp is None:
        return
    try:
        if percent <= 0:
            axp.setLDO2State(False)
        else:
            axp.setLDO2State(True)
            axp.setLcdBrightness(percent)
    except Exception:
        pass


def _arm_wdt(hw, logger):
    """One hardware watchdog for the life of the device (it cannot be stopped once armed).
    Firmware whose WDT takes no timeout (or has none) runs without one rather than with its
    few-second default, which a long meter wait would trip."""
    if hw.wdt is None and hasattr(machine, 'WDT'):
        try:
            hw.wdt = machine.WDT(timeout=WDT_TIMEOUT_MS)
        except (TypeError, ValueError, OSError) as e:
            logger.warning('no watchdog: %s', e)


def _heap():
    """(free heap, largest free block) in bytes.  MicroPython 1.11 has no call for the largest
    block, so it is found by halving trial allocations (each one freed at once)."""
    gc.collect()
    free = gc.mem_free()
    lo, hi = 0, free
    while hi - lo > 64:
        mid = (lo + hi) // 2
        try:
            block = bytearray(mid)
            block = None
            lo = mid
        except MemoryError:
            hi = mid
    return free, lo


def _device_id():
    try:
        import ubinascii
        return 'smm_' + ubinascii.hexlify(machine.unique_id()).decode()
    except Exception:
        return 'smartmeter'


def _show_fatal(title, hint):
    try:
        from view import View
        View(lcd).error(title, hint)
    except Exception:
        lcd.clear()
        lcd.print(title, 0, 0, 0xffffff)


def _load_config(logger):
    """SmartMeter.json, checked.  It is read once: lib/config.py is dropped afterwards, so its
    code goes back to the heap (the settings it returns do not hold on to it)."""
    import config
    try:
        return config.load_file(FLASH + '/SmartMeter.json')
    except config.ConfigError as e:
        # A broken config: say what to fix, and wait (no reboot loop).
        logger.error('config: %s', e)
        _show_fatal('Config error', str(e))
        while True:
            utime.sleep_ms(1000)
    finally:
        del sys.modules['config']


def main():
    logger = logmod.Logger('smm', clock=utime)
    cfg = _load_config(logger)
    gc.collect()
    logger.set_secrets(cfg.secrets())
    logger.set_level(cfg.log_level)

    uart = machine.UART(1, tx=cfg.uart['tx'], rx=cfg.uart['rx'])
    try:
        # 2 KB receive buffer: an E2 history answer line is ~540 bytes (the default is 256).
        uart.init(115200, bits=8, parity=None, stop=1, timeout=10, rxbuf=UART_RXBUF)
    except (TypeError, ValueError):
        uart.init(115200, bits=8, parity=None, stop=1, timeout=10)
    _wifi_start(cfg, logger)

    hw = Hardware()
    hw.uart = uart
    hw.lcd = lcd
    hw.btnA = btnA
    hw.btnB = btnB
    hw.ticks = utime
    hw.flash = FLASH
    hw.wifi_connected = _wifi_connected
    hw.ntp = lambda: _ntp(cfg)
    hw.wifi_reconnect = lambda: _wifi_start(cfg, logger)
    hw.wdt = None

    hw.arm_wdt = lambda: _arm_wdt(hw, logger)
    hw.reset = machine.reset
    hw.socket = usocket
    hw.select = uselect
    hw.ssl = ussl
    hw.heap = _heap
    hw.backlight = _backlight
    hw.device_id = _device_id()

    from app import App
    delay = 10
    while True:
        try:
            App(hw, cfg, logger).run()
        except MemoryError as e:
            logger.error('out of memory: %s', e)
        except Exception as e:
            # run() handles its own errors; this is the last guard: log, show, start again
            # in-process with a growing pause (never a silent reboot loop).
            logger.error('app stopped: %s', e)
            _show_fatal('App error', logmod.mask(str(e), cfg.secrets()))
        gc.collect()
        for _ in range(delay):
            if hw.wdt is not None:
                hw.wdt.feed()
            utime.sleep_ms(1000)
        delay = min(delay * 2, 600)


main()
