"""Host (CPython) stand-in for MicroPython's `ussl`, for lib/mqttpub.py's `tls` on a laptop.

`wrap_socket(sock, server_side=False, keyfile=None, certfile=None, cert_reqs=CERT_NONE, ca_certs=None,
server_hostname=None, do_handshake=True)` returns a MicroPython-style TLS stream: `read(n)` (loops to n
bytes; b'' at the end of the stream; None when the socket is non-blocking and nothing waits), `write(buf)`,
`setblocking(flag)`, `close()`.  Like MicroPython's ussl (mbedTLS) it keeps talking through the socket it
was handed (`.sock`, here via ssl.MemoryBIO), so that socket's timeout or non-blocking mode, set with
its own settimeout(), governs every TLS read and write: lib/mqttpub.py relies on that, as on the device.
Like MicroPython 1.11's ussl it verifies nothing unless asked (cert_reqs=CERT_REQUIRED + ca_certs).
"""
import ssl as _ssl

CERT_NONE = _ssl.CERT_NONE
CERT_OPTIONAL = _ssl.CERT_OPTIONAL
CERT_REQUIRED = _ssl.CERT_REQUIRED


class _Stream:
    def __init__(self, sock, tls):
        self.sock = sock
        self._tls, self._in, self._out = tls

    def _pump(self, op, *args):
        """Run a TLS operation, moving records between the socket and the BIOs until it completes.
        None when it needs bytes a non-blocking socket does not have yet."""
        while True:
            try:
                result = op(*args)
            except _ssl.SSLWantReadError:
                self._flush()
                try:
                    data = self.sock.recv(16384)
                except BlockingIOError:
                    return None
                if data:
                    self._in.write(data)
                else:
                    self._in.write_eof()
                continue
            except (_ssl.SSLEOFError, _ssl.SSLZeroReturnError):
                result = b''
            self._flush()
            return result

    def _flush(self):
        data = self._out.read()
        if data:
            self.sock.sendall(data)

    def do_handshake(self):
        self._pump(self._tls.do_handshake)

    def read(self, n=-1):
        buf = bytearray()
        while n < 0 or len(buf) < n:
            chunk = self._pump(self._tls.read, 16384 if n < 0 else n - len(buf))
            if chunk is None:
                if not buf:
                    return None
                break
            if not chunk:
                break
            buf += chunk
        return bytes(buf)

    def write(self, buf):
        if isinstance(buf, str):
            buf = buf.encode()
        data = bytes(buf)
        done = 0
        while done < len(data):
            done += self._pump(self._tls.write, data[done:])
        return len(data)

    def setblocking(self, flag):
        self.sock.setblocking(flag)

    def close(self):
        self.sock.close()


def wrap_socket(sock, server_side=False, keyfile=None, certfile=None, cert_reqs=CERT_NONE, ca_certs=None,
                server_hostname=None, do_handshake=True):
    ctx = _ssl.SSLContext(_ssl.PROTOCOL_TLS_SERVER if server_side else _ssl.PROTOCOL_TLS_CLIENT)
    if not server_side:
        ctx.check_hostname = bool(server_hostname) and cert_reqs == CERT_REQUIRED
        ctx.verify_mode = cert_reqs
    if ca_certs:
        ctx.load_verify_locations(ca_certs)
    if certfile:
        ctx.load_cert_chain(certfile, keyfile)
    incoming, outgoing = _ssl.MemoryBIO(), _ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_side=server_side, server_hostname=server_hostname)
    stream = _Stream(sock, (tls, incoming, outgoing))
    if do_handshake:
        stream.do_handshake()
    return stream
