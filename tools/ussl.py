"""Host (CPython) stand-in for MicroPython's `ussl`, enough for umqtt.simple's ssl=True on a laptop.

`wrap_socket(sock, server_side=False, keyfile=None, certfile=None, cert_reqs=CERT_NONE, ca_certs=None,
server_hostname=None, do_handshake=True)` returns a MicroPython-style stream (read(n) looping to n bytes,
None when non-blocking and nothing waits, readinto, readline, write(buf[, n]), setblocking, settimeout).
Like MicroPython 1.11's ussl it verifies nothing unless asked (cert_reqs=CERT_REQUIRED + ca_certs).
A wrapper that keeps its socket in `.sock` (lib/mqttpub.py's timed socket) is wrapped in place, so its
timeouts keep working over TLS.  The device's own ussl wants a native socket: see lib/mqttpub.py.
"""
import socket as _socket
import ssl as _ssl

CERT_NONE = _ssl.CERT_NONE
CERT_OPTIONAL = _ssl.CERT_OPTIONAL
CERT_REQUIRED = _ssl.CERT_REQUIRED


class _Stream:
    def __init__(self, ssock):
        self.s = ssock

    def _recv(self, n):
        try:
            return self.s.recv(n)
        except (_ssl.SSLWantReadError, BlockingIOError):
            return None

    def read(self, n=-1):
        buf = bytearray()
        while n < 0 or len(buf) < n:
            chunk = self._recv(4096 if n < 0 else n - len(buf))
            if chunk is None:
                if not buf:
                    return None
                break
            if not chunk:
                break
            buf += chunk
        return bytes(buf)

    def readinto(self, buf, n=None):
        data = self.read(len(buf) if n is None else n)
        if data is None:
            return None
        buf[:len(data)] = data
        return len(data)

    def readline(self):
        line = bytearray()
        while True:
            c = self._recv(1)
            if c is None:
                if not line:
                    return None
                break
            if not c:
                break
            line += c
            if c == b"\n":
                break
        return bytes(line)

    def write(self, buf, n=None):
        if isinstance(buf, str):
            buf = buf.encode()
        data = memoryview(buf)
        if n is not None:
            data = data[:n]
        self.s.sendall(data)
        return len(data)

    def setblocking(self, flag):
        self.s.setblocking(flag)

    def settimeout(self, t):
        self.s.settimeout(t)

    def fileno(self):
        return self.s.fileno()

    def close(self):
        self.s.close()


def wrap_socket(sock, server_side=False, keyfile=None, certfile=None, cert_reqs=CERT_NONE, ca_certs=None,
                server_hostname=None, do_handshake=True):
    holder = None
    if not isinstance(sock, _socket.socket) and isinstance(getattr(sock, "sock", None), _socket.socket):
        holder, sock = sock, sock.sock
    ctx = _ssl.SSLContext(_ssl.PROTOCOL_TLS_SERVER if server_side else _ssl.PROTOCOL_TLS_CLIENT)
    if not server_side:
        ctx.check_hostname = bool(server_hostname) and cert_reqs == CERT_REQUIRED
        ctx.verify_mode = cert_reqs
    if ca_certs:
        ctx.load_verify_locations(ca_certs)
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    ssock = ctx.wrap_socket(sock, server_side=server_side, server_hostname=server_hostname,
                            do_handshake_on_connect=do_handshake)
    stream = _Stream(ssock)
    if holder is not None:
        holder.sock = stream
        return holder
    return stream
