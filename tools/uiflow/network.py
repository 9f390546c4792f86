"""Stand-in for MicroPython's `network` (ESP32 port): the station interface that wifiCfg uses.

Whether the station is associated is decided by wifiCfg._sim (the simulated access point):
`WLAN(STA_IF)` always returns the one station object, which is also `wifiCfg.wlan_sta`.
"""

from uiflow_sim import hub

STA_IF = 0
AP_IF = 1

STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_BEACON_TIMEOUT = 200
STAT_ASSOC_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204

AUTH_OPEN = 0
AUTH_WPA2_PSK = 3

MODE_11B = 1
MODE_11G = 2
MODE_11N = 4


class WifiSim(object):
    """wifiCfg._sim: the simulated access point and the station's association.

    up: True/False, or a callable(now_ms) -> bool (a schedule of outages).
    saved: (ssid, password) that autoConnect() uses, or None (nothing saved).
    accept: None (any credentials work) or the one (ssid, password) the AP accepts.
    connect_ms: simulation time an association takes; fail_ms: how long a blocking
    connect attempt waits before giving up.
    auto_reconnect: after an outage the station re-associates by itself (ESP32 default);
    False: it stays down until the app calls reconnect()/connect()."""

    def __init__(self):
        self.reset(True)

    def reset(self, hard):
        if hard:
            self.up = True
            self.saved = ('sim-ap', 'sim-password')
            self.accept = None
            self.connect_ms = 1500
            self.fail_ms = 10000
            self.auto_reconnect = True
            self.hidden = set()  # wifiCfg names to hide, e.g. {'is_connected'}
            self.ip = ('192.168.10.50', '255.255.255.0', '192.168.10.1', '192.168.10.1')
            self.mac = b'\xd8\xa0\x1d\x5a\x3c\x10'
            self.rssi = -62
            self.calls = []
        self.active = False
        self.requested = None  # (ssid, password) the station tries to join
        self.last = None  # last credentials used (reconnect())
        self.assoc_at = None  # now_ms when the association completes
        self._was_up = None

    def link_up(self, now=None):
        """Is the access point reachable now?"""
        if now is None:
            now = hub.now_ms()
        up = self.up
        return bool(up(now) if callable(up) else up)

    def _accepts(self, creds):
        return creds is not None and (self.accept is None or tuple(creds) == tuple(self.accept))

    def connected(self, now=None):
        """Is the station associated with an IP now?  (What isconnected() reports.)"""
        if now is None:
            now = hub.now_ms()
        if self.requested is None or not self._accepts(self.requested):
            return False
        up = self.link_up(now)
        if self._was_up is not None and up != self._was_up:
            hub.event('wifi-up' if up else 'wifi-down', '')
            if not up and not self.auto_reconnect:
                self._was_up = up
                self.requested = None
                return False
        self._was_up = up
        return up and self.assoc_at is not None and now >= self.assoc_at

    def start(self, ssid, password):
        """The station starts joining (ssid, password)."""
        self.active = True
        self.requested = (ssid, password)
        self.last = self.requested
        self.assoc_at = hub.now_ms() + self.connect_ms
        self._was_up = None
        self.calls.append(('connect', ssid))
        hub.event('wifi-connect', str(ssid))

    def wait(self, timeout_ms):
        """Block (simulation time, no callbacks) until connected or timeout_ms passed."""
        waited = 0
        step = 100
        while not self.connected() and waited < timeout_ms:
            hub.block_ms(min(step, timeout_ms - waited))
            waited += step
        return self.connected()

    def stop(self):
        self.requested = None
        self.assoc_at = None
        hub.event('wifi-disconnect', '')


_sim = WifiSim()
hub.on_reset(_sim.reset, order=40)


class WLAN(object):
    """network.WLAN(STA_IF): the ESP32 station (one shared instance per interface)."""

    _instances = {}

    def __new__(cls, interface_id=STA_IF):
        inst = cls._instances.get(interface_id)
        if inst is None:
            inst = object.__new__(cls)
            inst._if = interface_id
            cls._instances[interface_id] = inst
        return inst

    def __init__(self, interface_id=STA_IF):
        pass

    def active(self, is_active=None):
        if is_active is None:
            return _sim.active if self._if == STA_IF else False
        if self._if == STA_IF:
            _sim.active = bool(is_active)
            if not is_active:
                _sim.stop()
        return None

    def connect(self, ssid=None, password=None, bssid=None):
        if self._if != STA_IF:
            raise OSError('AP interface cannot connect')
        if not _sim.active:
            raise OSError('Wifi Internal Error')
        _sim.start(ssid, password)

    def disconnect(self):
        if self._if == STA_IF:
            _sim.stop()

    def isconnected(self):
        return self._if == STA_IF and _sim.connected()

    def status(self, param=None):
        if param == 'rssi':
            if not _sim.connected():
                raise OSError('STA not connected')
            return _sim.rssi
        if _sim.connected():
            return STAT_GOT_IP
        if _sim.requested is not None:
            return STAT_CONNECTING
        return STAT_IDLE

    def ifconfig(self, config=None):
        if config is not None:
            _sim.ip = tuple(config)
            return None
        if self._if == STA_IF and _sim.connected():
            return tuple(_sim.ip)
        return ('0.0.0.0', '0.0.0.0', '0.0.0.0', '0.0.0.0')

    def config(self, *args, **kwargs):
        if args:
            key = args[0]
            if key == 'mac':
                return _sim.mac
            if key == 'essid':
                return _sim.requested[0] if _sim.requested else ''
            if key == 'dhcp_hostname':
                return 'espressif'
            raise ValueError('unknown config param')
        return None

    def scan(self):
        if not _sim.active:
            raise OSError('STA must be active')
        if not _sim.link_up():
            return []
        name = (_sim.accept or _sim.saved or ('sim-ap', ''))[0]
        return [(name.encode(), _sim.mac, 1, _sim.rssi, AUTH_WPA2_PSK, False)]


def phy_mode(mode=None):
    return MODE_11N if mode is None else None
