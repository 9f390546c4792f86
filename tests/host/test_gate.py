"""The device-code gate must catch what UIFlow's MicroPython 1.11 cannot run."""
import os
import subprocess
import sys

import gate

BAD = {
    "fstring": "x = 1\ny = f'{x}'\n",
    "walrus": "if (n := 3):\n    pass\n",
    "hex": "b = b'ab'\ns = b.hex()\n",
    "fromhex": "b = bytes.fromhex('ab')\n",
    "signed": "v = int.from_bytes(b'\\xff', 'big', signed=True)\n",
    "logging": "import logging\n",
    "datetime": "from datetime import date\n",
    "assert": "def f(x):\n    assert x > 0\n",
    "zfill": "s = '1'.zfill(3)\n",
    "split_kw": "s = 'a b'.split(maxsplit=1)\n",
    "startswith_tuple": "ok = 'ab'.startswith(('a', 'b'))\n",
    "time_ns": "import time\nt = time.time_ns()\n",
    "exc_init": "class E(Exception):\n    def __init__(self, m):\n        Exception.__init__(self, m)\n",
}


def test_each_banned_construct_is_reported():
    for name, src in BAD.items():
        findings = gate.lint("lib/x_%s.py" % name, src)
        assert findings, name


def test_clean_code_passes():
    src = "import struct\nfrom util import hex_upper\nv = struct.unpack('>i', b'\\xff\\xff\\xff\\xfe')[0]\ns = '%04X' % v\n"
    assert gate.lint("lib/ok.py", src) == []


def test_mpy_cross_111_rejects_fstring(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("x = 1\nprint(f'{x}')\n")
    assert gate.compile_111(str(bad))
    good = tmp_path / "good.py"
    good.write_text("x = 1\nprint('%d' % x)\n")
    assert gate.compile_111(str(good)) == []


def test_gate_passes_on_the_tree():
    res = subprocess.run([sys.executable, os.path.join("tools", "gate.py")], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
