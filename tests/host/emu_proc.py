"""Helper for host tests: run tools/emulator.py --pty as a subprocess and collect its truth lines."""
import json
import os
import select
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EMULATOR = os.path.join(ROOT, "tools", "emulator.py")


class EmuProc:
    """Start the PTY emulator; .path is the slave device; .truths collects the JSON lines.

    A watchdog kills the emulator after `limit` seconds, so a client stuck on the port gets an
    error instead of hanging the test run.
    """

    def __init__(self, *args, limit=240):
        self.proc = subprocess.Popen([sys.executable, EMULATOR, "--pty"] + list(args),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        if not ready:
            self.stop()
            raise AssertionError("emulator printed no path within 20 s")
        self.first_line = self.proc.stdout.readline().decode()
        self.path = self.first_line.strip()
        self.truths = []
        self.other_stderr = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        self._watchdog = threading.Timer(limit, self.stop)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").strip()
            try:
                item = json.loads(line)
            except ValueError:
                item = None
            with self._lock:
                if isinstance(item, dict):
                    self.truths.append(item)
                elif line:
                    self.other_stderr.append(line)

    def count(self):
        with self._lock:
            return len(self.truths)

    def wait_truth(self, after, pred=lambda t: True, timeout=10.0):
        """The first truth line at index >= after that satisfies pred."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                for item in self.truths[after:]:
                    if pred(item):
                        return item
            time.sleep(0.02)
        raise AssertionError("no matching truth line from the emulator")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if hasattr(self, "_watchdog"):
            self._watchdog.cancel()
