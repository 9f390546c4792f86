"""A throw-away Mosquitto broker on 127.0.0.1 for tests and the desktop simulator (host, CPython).

    b = Broker().start()        # free loopback port, anonymous access, no persistence
    ... b.port, b.pid ...
    b.stop(); b.start()          # a restart keeps the same port (and, without persistence, forgets
    b.close()                    # retained messages); close() stops it and removes its files

`Broker(port=0, users=None, tls=False)`: with users={'name': 'password'} anonymous access is off and a
password file is written with mosquitto_passwd; with tls=True a second listener on `.tls_port` speaks TLS
with a fresh self-signed certificate for 127.0.0.1 (`.cafile`, made with the openssl command).  The broker only ever listens on 127.0.0.1.  It is stopped by its
PID (SIGTERM, then SIGKILL after a deadline), never by name.  `find_mosquitto()` returns the binary's
path or None (Debian installs it in /usr/sbin, often outside a normal user's PATH).
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HOST = "127.0.0.1"
_SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


class BrokerError(Exception):
    pass


def _which(name):
    found = shutil.which(name)
    if found:
        return found
    for d in _SBIN:
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    return None


def find_mosquitto():
    return _which("mosquitto")


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


class Broker:
    def __init__(self, port=0, users=None, tls=False, start_timeout_s=10.0):
        self.port = port or free_port()
        self.users = dict(users or {})
        self.tls = tls
        self.tls_port = free_port() if tls else None
        self.cafile = None
        self.start_timeout_s = start_timeout_s
        self.exe = find_mosquitto()
        self.proc = None
        self.dir = None
        self.log_path = None

    @property
    def pid(self):
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _write_config(self):
        if self.dir is None:
            self.dir = tempfile.mkdtemp(prefix="smartmeter-mosquitto-")
            # Started as root, mosquitto drops to the `mosquitto` user: it must read these files.
            os.chmod(self.dir, 0o755)
        lines = [
            "listener %d %s" % (self.port, HOST),
            "persistence false",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
        ]
        if self.users:
            passwd = _which("mosquitto_passwd")
            if passwd is None:
                raise BrokerError("mosquitto_passwd is missing (Debian package mosquitto)")
            pw_path = os.path.join(self.dir, "passwd")
            open(pw_path, "w").close()
            for name, password in self.users.items():
                subprocess.run([passwd, "-b", pw_path, name, password], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            os.chmod(pw_path, 0o644)
            lines += ["allow_anonymous false", "password_file %s" % pw_path]
        else:
            lines.append("allow_anonymous true")
        if self.tls:
            self._make_cert()
            lines += ["listener %d %s" % (self.tls_port, HOST),
                      "certfile %s" % self.cafile, "keyfile %s" % os.path.join(self.dir, "key.pem")]
        conf = os.path.join(self.dir, "mosquitto.conf")
        with open(conf, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        os.chmod(conf, 0o644)
        self.log_path = os.path.join(self.dir, "mosquitto.log")
        return conf

    def _make_cert(self):
        cert = os.path.join(self.dir, "cert.pem")
        key = os.path.join(self.dir, "key.pem")
        if not os.path.exists(cert):
            openssl = _which("openssl")
            if openssl is None:
                raise BrokerError("openssl is missing (Debian package openssl)")
            subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                            "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            os.chmod(key, 0o644)  # a test key, read by mosquitto after it drops root
        self.cafile = cert

    def start(self):
        if self.running:
            return self
        if self.exe is None:
            raise BrokerError("mosquitto is not installed (Debian: apt-get install -y mosquitto mosquitto-clients)")
        conf = self._write_config()
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen([self.exe, "-c", conf], stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        finally:
            log.close()
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError("mosquitto exited with %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError("mosquitto did not listen on %s:%d within %.0f s" % (HOST, self.port, self.start_timeout_s))

    def stop(self, timeout_s=5.0):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout_s)

    def close(self):
        self.stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def log(self):
        if self.log_path and os.path.exists(self.log_path):
            with open(self.log_path, errors="replace") as fh:
                return fh.read()
        return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
