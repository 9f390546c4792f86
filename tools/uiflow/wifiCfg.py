"""Stand-in for UIFlow 1.x's `wifiCfg` (Wi-Fi set-up helpers) on the simulated access point.

Connectivity is controlled by the simulator through `wifiCfg._sim` (network.WifiSim):
`_sim.up = False` (or a callable(now_ms) -> bool schedule) takes the access point away.
Connecting costs simulation time (`_sim.connect_ms`) inside the call when it blocks.

`autoConnect(lcdShow=True)` raises uiflow_sim.DeviceHazard: on the device it blocks forever
when Wi-Fi fails (field report), so an app must never use it.  Timeout units of connect()
are milliseconds [inferred]; what autoConnect(lcdShow=False) does on failure on the device
is not documented: here it waits `_sim.fail_ms` and returns without raising.
"""

import network
from uiflow_sim import DeviceHazard, hub

_sim = network._sim
wlan_sta = network.WLAN(network.STA_IF)

_NAMES = ('isconnected', 'is_connected')


def __getattr__(name):
    # some firmware has isconnected(), some is_connected(): _sim.hidden removes either
    if name in _NAMES and name not in _sim.hidden:
        return _isconnected
    raise AttributeError("module 'wifiCfg' has no attribute '%s'" % name)


def _isconnected():
    return _sim.connected()


def autoConnect(lcdShow=False):
    if lcdShow:
        hub.event('hazard', 'wifiCfg.autoConnect(lcdShow=True)')
        raise DeviceHazard('wifiCfg.autoConnect(lcdShow=True) blocks forever on the device when '
                           'Wi-Fi fails: never use it; call autoConnect(lcdShow=False) or '
                           'connect(..., block=False) and retry in your own loop')
    _sim.calls.append(('autoConnect', lcdShow))
    wlan_sta.active(True)
    if _sim.saved is None:
        hub.block_ms(_sim.fail_ms)
        return None
    _sim.start(_sim.saved[0], _sim.saved[1])
    _sim.wait(_sim.connect_ms + _sim.fail_ms)
    return None


def doConnect(ssid, pwd):
    _sim.calls.append(('doConnect', ssid))
    wlan_sta.active(True)
    _sim.start(ssid, pwd)
    _sim.wait(_sim.connect_ms + _sim.fail_ms)
    return None


def connect(ssid, pwd, timeout=10000, block=False):
    _sim.calls.append(('connect', ssid, timeout, block))
    wlan_sta.active(True)
    _sim.start(ssid, pwd)
    if block:
        return _sim.wait(int(timeout))
    return None


def reconnect():
    _sim.calls.append(('reconnect',))
    wlan_sta.active(True)
    creds = _sim.last or _sim.saved
    if creds is None:
        return None
    _sim.start(creds[0], creds[1])
    return None
