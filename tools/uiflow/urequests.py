"""Minimal stand-in for the firmware's `urequests`, over CPython's http.client.

request/get/post/put/patch/delete/head(url, data=None, json=None, headers={}) return a
Response with .status_code, .reason (bytes), .content, .text, .json() and .close(), like
micropython-lib's urequests of the MicroPython 1.11/1.12 era.  There is no `timeout`
argument on FW 1.12: passing one raises TypeError unless `urequests._sim.allow_timeout`.

Simulator hooks (`urequests._sim`):
* handler: callable(method, url, body_bytes, headers) -> (status, body_bytes) or
  (status, reason, body_bytes); it may raise OSError or call uiflow_sim.hub.block_ms() to
  model a slow server.  When None, the request goes over the real network via http.client.
* host_map: {'ambidata.io': ('127.0.0.1', 8123)}: send requests for a host to a local server
  (the Host header keeps the original name).
* latency_ms: simulation time each request takes (inside the call, no callbacks run).
* log: (t_ms, method, url, status or error) of every request.
Without Wi-Fi (wifiCfg/network simulation) the name lookup fails with OSError(-202)
(OSError(113) for a numeric address), as on the device.
"""

import collections
import http.client
import json as _json
import socket

from uiflow_sim import hub

import network


class HttpSim(object):
    def __init__(self):
        self.reset(True)

    def reset(self, hard):
        if hard:
            self.handler = None
            self.host_map = {}
            self.latency_ms = 50
            self.real_timeout_s = 10.0
            self.allow_timeout = False
            self.log = collections.deque(maxlen=500)


_sim = HttpSim()
hub.on_reset(_sim.reset, order=46)


class Response(object):
    def __init__(self, status, reason, content):
        self.status_code = status
        self.reason = reason
        self._content = content
        self.encoding = 'utf-8'
        self.raw = None
        self._closed = False

    def close(self):
        self._closed = True

    @property
    def content(self):
        return self._content

    @property
    def text(self):
        return str(self._content, self.encoding)

    def json(self):
        return _json.loads(self._content)


def _split(url):
    try:
        proto, _dummy, host, path = url.split('/', 3)
    except ValueError:
        proto, _dummy, host = url.split('/', 2)
        path = ''
    if proto == 'http:':
        port = 80
    elif proto == 'https:':
        port = 443
    else:
        raise ValueError('Unsupported protocol: ' + proto)
    if ':' in host:
        host, p = host.split(':', 1)
        port = int(p)
    return proto, host, port, '/' + path


def _is_numeric(host):
    parts = host.split('.')
    return len(parts) == 4 and all(p.isdigit() for p in parts)


def request(method, url, data=None, json=None, headers=None, stream=None, **kwargs):
    if 'timeout' in kwargs and _sim.allow_timeout:
        kwargs.pop('timeout')
    for key in kwargs:
        raise TypeError("unexpected keyword argument '%s'" % key)
    proto, host, port, path = _split(url)
    body = None
    hdrs = dict(headers or {})
    if json is not None:
        body = _json.dumps(json).encode()
        hdrs['Content-Type'] = 'application/json'
    elif data is not None:
        body = data.encode() if isinstance(data, str) else bytes(data)
    now = hub.now_ms()
    if not network._sim.connected():
        err = OSError(113) if _is_numeric(host) else OSError(-202)
        _sim.log.append((now, method, url, 'OSError(%d)' % err.args[0]))
        raise err
    if _sim.latency_ms:
        hub.block_ms(_sim.latency_ms)
    try:
        if _sim.handler is not None:
            result = _sim.handler(method, url, body, hdrs)
            if len(result) == 3:
                status, reason, content = result
            else:
                status, content = result
                reason = http.client.responses.get(status, '')
            reason = reason.encode() if isinstance(reason, str) else reason
            content = content.encode() if isinstance(content, str) else bytes(content or b'')
        else:
            status, reason, content = _http(proto, host, port, path, method, body, hdrs)
    except OSError as exc:
        _sim.log.append((now, method, url, 'OSError(%r)' % (exc.args[:1],)))
        raise
    _sim.log.append((now, method, url, status))
    return Response(status, reason, content)


def _http(proto, host, port, path, method, body, hdrs):
    target = _sim.host_map.get(host)
    conn_host, conn_port = (target if target else (host, port))
    if proto == 'https:' and not target:
        conn = http.client.HTTPSConnection(conn_host, conn_port, timeout=_sim.real_timeout_s)
    else:
        conn = http.client.HTTPConnection(conn_host, conn_port, timeout=_sim.real_timeout_s)
    hdrs.setdefault('Host', host if port in (80, 443) else '%s:%d' % (host, port))
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        content = resp.read()
        return resp.status, resp.reason.encode(), content
    except socket.timeout:
        raise OSError(110) from None  # ETIMEDOUT, as the device's socket reports it
    except http.client.HTTPException as exc:
        raise OSError(104, str(exc)) from exc  # ECONNRESET: the server broke the exchange
    except OSError as exc:
        raise OSError(exc.errno or 104, str(exc)) from exc
    finally:
        conn.close()


def head(url, **kw):
    return request('HEAD', url, **kw)


def get(url, **kw):
    return request('GET', url, **kw)


def post(url, **kw):
    return request('POST', url, **kw)


def put(url, **kw):
    return request('PUT', url, **kw)


def patch(url, **kw):
    return request('PATCH', url, **kw)


def delete(url, **kw):
    return request('DELETE', url, **kw)
