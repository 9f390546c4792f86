// Runs the device-side unit tests (tests/device/test_*.py) inside the real MicroPython VM
// (npm @micropython/micropython-webassembly-pyscript, v1.27, under Node).
//
// For every test file it starts a fresh VM, copies lib/*.py, the MicroPython-safe host modules
// listed in MP_TOOLS, tests/device/*.py and tests/data/ into the VM's file system, imports the
// file and calls each test_* function.  It prints PASS/FAIL per test, the traceback of each failure,
// and closes with the line `micropython: N passed, N failed`.  Exit status 1 when anything failed.
//
// usage: node tools/mp_test.mjs [-k SUBSTRING] [tests/device/test_x.py ...]
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// Host-side modules that are written to the device-code rules and run inside the VM too.
const MP_TOOLS = ["bp35emu.py", "replay.py"];

function listPy(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((f) => f.endsWith(".py")).sort();
}

function copyTree(mp, hostDir, vmDir) {
  if (!fs.existsSync(hostDir)) return;
  try { mp.FS.mkdir(vmDir); } catch (e) { /* exists */ }
  for (const name of fs.readdirSync(hostDir)) {
    const h = path.join(hostDir, name);
    const v = vmDir + "/" + name;
    if (fs.statSync(h).isDirectory()) copyTree(mp, h, v);
    else mp.FS.writeFile(v, fs.readFileSync(h));
  }
}

async function runFile(file, filter) {
  let out = "";
  const mp = await loadMicroPython({
    heapsize: 32 * 1024 * 1024,
    stdout: (line) => { out += line + "\n"; },
    stderr: (line) => { out += line + "\n"; },
  });
  mp.FS.mkdir("/lib");
  for (const f of listPy(path.join(ROOT, "lib"))) mp.FS.writeFile("/lib/" + f, fs.readFileSync(path.join(ROOT, "lib", f)));
  for (const f of MP_TOOLS) {
    const h = path.join(ROOT, "tools", f);
    if (fs.existsSync(h)) mp.FS.writeFile("/lib/" + f, fs.readFileSync(h));
  }
  mp.FS.mkdir("/tests");
  mp.FS.mkdir("/tests/device");
  for (const f of listPy(path.join(ROOT, "tests", "device"))) {
    mp.FS.writeFile("/tests/device/" + f, fs.readFileSync(path.join(ROOT, "tests", "device", f)));
  }
  copyTree(mp, path.join(ROOT, "tests", "data"), "/tests/data");
  const modname = path.basename(file, ".py");
  const code = `
import sys, os, gc
os.chdir('/')
sys.path.insert(0, '/tests/device')
_filter = ${JSON.stringify(filter || "")}
_mod = __import__(${JSON.stringify(modname)})
for _name in sorted(dir(_mod)):
    if not _name.startswith('test_') or _filter not in _name:
        continue
    _fn = getattr(_mod, _name)
    if not callable(_fn):
        continue
    try:
        _fn()
        print('@@PASS ' + _name)
    except Exception as _e:
        print('@@FAIL ' + _name)
        sys.print_exception(_e)
    gc.collect()
`;
  let crashed = null;
  try {
    mp.runPython(code);
  } catch (e) {
    crashed = (e && e.message) ? e.message : String(e);
  }
  return { out, crashed };
}

async function main() {
  const args = process.argv.slice(2);
  let filter = "";
  const files = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "-k") filter = args[++i];
    else files.push(args[i]);
  }
  if (files.length === 0) {
    for (const f of listPy(path.join(ROOT, "tests", "device"))) if (f.startsWith("test_")) files.push("tests/device/" + f);
  }
  let passed = 0, failed = 0;
  for (const file of files) {
    const t0 = Date.now();
    const { out, crashed } = await runFile(file, filter);
    let p = 0, f = 0;
    const report = [];
    let inFailure = false;
    for (const line of out.split("\n")) {
      if (line.startsWith("@@PASS ")) { p++; inFailure = false; }
      else if (line.startsWith("@@FAIL ")) { f++; inFailure = true; report.push("  FAIL " + line.slice(7)); }
      else if (inFailure && line) report.push("    " + line);
    }
    if (crashed) { f++; report.push("  ERROR importing or running " + file + ":\n" + crashed); }
    passed += p; failed += f;
    console.log(`${file}: ${p} passed, ${f} failed (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    if (report.length) console.log(report.join("\n"));
    if (process.env.MP_TEST_VERBOSE) console.log(out);
  }
  console.log(`micropython: ${passed} passed, ${failed} failed`);
  process.exit(failed || passed === 0 ? 1 : 0);
}

main();
