"""Host (CPython) stand-in for MicroPython's `usocket`, for lib/ on a laptop (lib/mqttpub.py's MQTT client,
the simulator, tests/host/test_mqtt_broker.py).

MicroPython sockets are streams: besides send/recv they offer `read(n)` (loops until n bytes or end of
stream; on a non-blocking socket with nothing waiting it returns None), `readinto(buf[, n])`,
`readline()` and `write(buf[, n])` (writes everything, or the first n bytes).  CPython sockets have none
of these, so a plain alias is not enough: `socket` here is CPython's socket with those methods added.
`getaddrinfo` defaults to IPv4 TCP, as on the ESP32 (lib/mqttpub.py takes the first entry and opens an
AF_INET socket).  Timeouts raise OSError (TimeoutError), as ETIMEDOUT does on the device.
"""
import socket as _socket
from socket import *  # noqa: F403  (AF_INET, SOCK_STREAM, SOL_SOCKET, ...)


class socket(_socket.socket):  # MicroPython's name
    def __init__(self, af=_socket.AF_INET, type=_socket.SOCK_STREAM, proto=0, fileno=None):
        super().__init__(af, type, proto, fileno)

    def accept(self):
        conn, addr = super().accept()
        timeout = conn.gettimeout()
        sock = socket(conn.family, conn.type, conn.proto, fileno=conn.detach())
        sock.settimeout(timeout)
        return sock, addr

    def read(self, n=-1):
        """Up to n bytes (all until EOF when n < 0); b'' at EOF; None when non-blocking and nothing waits."""
        buf = bytearray()
        while n < 0 or len(buf) < n:
            try:
                chunk = self.recv(4096 if n < 0 else n - len(buf))
            except BlockingIOError:
                if not buf:
                    return None
                break
            if not chunk:
                break
            buf += chunk
        return bytes(buf)

    def readinto(self, buf, n=None):
        view = memoryview(buf)
        if n is not None:
            view = view[:n]
        got = 0
        while got < len(view):
            try:
                k = self.recv_into(view[got:])
            except BlockingIOError:
                if not got:
                    return None
                break
            if not k:
                break
            got += k
        return got

    def readline(self):
        line = bytearray()
        while True:
            try:
                c = self.recv(1)
            except BlockingIOError:
                if not line:
                    return None
                break
            if not c:
                break
            line += c
            if c == b'\n':
                break
        return bytes(line)

    def write(self, buf, n=None):
        if isinstance(buf, str):  # MicroPython writes a str as its UTF-8 bytes
            buf = buf.encode()
        data = memoryview(buf)
        if n is not None:
            data = data[:n]
        self.sendall(data)
        return len(data)


def getaddrinfo(host, port, af=_socket.AF_INET, type=_socket.SOCK_STREAM, proto=0, flags=0):
    return _socket.getaddrinfo(host, port, af, type, proto, flags)
