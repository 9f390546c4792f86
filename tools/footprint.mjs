// Heap footprint of the device code in real MicroPython (WebAssembly, 32-bit, v1.27), for
// tools/footprint.py (make test, make bench).  Reads a plan (JSON file, argv[2]) and prints one line
// `@@FOOTPRINT {json}`.
//
// The VM's heap grows on its own, so nothing here relies on running out of memory: every figure is
// gc.mem_alloc() after two gc.collect() calls made from JavaScript (a collection requested inside a
// runPython call is completed only when control is back in JS), minus a baseline taken the same way.
//
//  imports: a fresh VM per config; the device modules (precompiled .mpy, as deployed) are imported one
//           at a time in dependency order; each module's figure is the growth its import caused, with
//           the number of new qstrs it interned.
//  run:     a fresh VM per config with the stand-in hardware of tools/fp_device.py (the baseline), the
//           app built as apps/SMM.py builds it, App.start(), then `hours` of virtual time in 10-s slices
//           with a collection after each; the UART, Wi-Fi, NTP and TCP peers are tools/fp_world.py in a
//           CPython process reached over two FIFOs, so the emulator's allocations stay out of this heap.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn, execFileSync } from "node:child_process";

const plan = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const SLICE_MS = 10000;
const PRESSES = process.env.FOOTPRINT_PRESSES ? JSON.parse(process.env.FOOTPRINT_PRESSES)
  : { 0: "b", 1: "b", 2: "b", 3: "a", 4: "A", 5: "A", 6: "a" };

async function vm(verbose) {
  const out = [];
  const mp = await loadMicroPython({
    heapsize: 512 * 1024,
    stdout: (l) => { out.push(l); if (verbose) process.stderr.write(l + "\n"); },
    stderr: (l) => { out.push(l); process.stderr.write(l + "\n"); },
  });
  mp.FS.mkdir("/lib");
  for (const f of fs.readdirSync(plan.mpy_dir).filter((f) => !f.endsWith(".json"))) {
    const p = path.join(plan.mpy_dir, f);
    if (fs.statSync(p).isDirectory()) {
      mp.FS.mkdir("/lib/" + f);
      for (const g of fs.readdirSync(p)) mp.FS.writeFile("/lib/" + f + "/" + g, fs.readFileSync(path.join(p, g)));
    } else {
      mp.FS.writeFile("/lib/" + f, fs.readFileSync(p));
    }
  }
  mp.FS.mkdir("/flash");
  const run = (code) => mp.runPython(code);
  const value = (expr) => {
    out.length = 0;
    run("print('@@V', " + expr + ")");
    const line = out.find((l) => l.startsWith("@@V "));
    return line === undefined ? null : line.slice(4);
  };
  const collect = () => { run("gc.collect()"); run("gc.collect()"); };
  const mem = () => { collect(); return Number(value("gc.mem_alloc()")); };
  const qstrList = () => {
    out.length = 0;
    run("micropython.qstr_info(1)");
    return out.map((l) => l.trimEnd()).filter((l) => l.startsWith("Q(") && l.endsWith(")")).map((l) => l.slice(2, -1));
  };
  const qstrs = () => {
    out.length = 0;
    run("micropython.qstr_info()");
    const m = /n_qstr=(\d+), n_str_data_bytes=(\d+), n_total_bytes=(\d+)/.exec(out.join("\n"));
    return m ? { n: Number(m[1]), str: Number(m[2]), bytes: Number(m[3]) } : { n: 0, str: 0, bytes: 0 };
  };
  return { mp, run, value, mem, qstrs, qstrList, out };
}

async function imports(order) {
  const v = await vm(false);
  v.mp.registerJsModule("fpjs", { rpc: () => null });
  v.run("import gc, sys, micropython\nimport fp_device");
  const base = v.mem();
  const q0 = v.qstrs();
  let prev = base;
  let pq = q0;
  const modules = [];
  const seen = new Set(plan.list_qstrs ? v.qstrList() : []);
  for (const name of order) {
    try {
      v.run("import " + name);
    } catch (e) {
      if (!plan.modules_only) throw e;
      modules.push({ name, bytes: 0, qstrs: 0, qstr_bytes: 0, qstr_str: 0, error: String(e.message).trim().split("\n").pop() });
      continue;
    }
    const m = v.mem();
    const q = v.qstrs();
    // qstr_bytes: what the qstr pools grew by (a pool doubles when full, so a module may be
    // charged a lump); qstr_str: the characters of this module's own new names
    const entry = { name, bytes: m - prev, qstrs: q.n - pq.n, qstr_bytes: q.bytes - pq.bytes, qstr_str: q.str - pq.str };
    if (plan.list_qstrs) {
      entry.names = v.qstrList().filter((x) => !seen.has(x));
      entry.names.forEach((x) => seen.add(x));
    }
    modules.push(entry);
    prev = m;
    pq = q;
  }
  return { total: prev - base, qstrs: pq.n - q0.n, qstr_bytes: pq.bytes - q0.bytes, modules };
}

function openWorld(scenario) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "smm-fp-"));
  const req = path.join(dir, "req");
  const rep = path.join(dir, "rep");
  execFileSync("mkfifo", [req, rep]);
  const sc = path.join(dir, "scenario.json");
  fs.writeFileSync(sc, JSON.stringify(scenario));
  const child = spawn(plan.python, [plan.world, req, rep, sc], { stdio: ["ignore", "inherit", "inherit"] });
  // O_RDWR opens of a FIFO never block, and reads of `rep` are non-blocking: a world process that
  // died is noticed (its /proc entry turns zombie) instead of hanging this run for ever.
  const wfd = fs.openSync(req, fs.constants.O_RDWR);
  const rfd = fs.openSync(rep, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const buf = Buffer.alloc(1 << 16);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const dead = () => {
    try { return / [ZX] /.test(fs.readFileSync("/proc/" + child.pid + "/stat", "utf8")); } catch (e) { return true; }
  };
  let pending = "";
  return {
    call(method, now, args) {
      fs.writeSync(wfd, JSON.stringify([method, now].concat(args)) + "\n");
      for (let spins = 0; ; spins++) {
        const nl = pending.indexOf("\n");
        if (nl >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          const msg = JSON.parse(line);
          if (msg.e !== undefined) throw new Error("world." + method + ": " + msg.e);
          return msg.r;
        }
        let n = 0;
        try {
          n = fs.readSync(rfd, buf, 0, buf.length, null);
        } catch (e) {
          if (e.code !== "EAGAIN") throw e;
          if (spins > 2000) Atomics.wait(nap, 0, 0, 1);
          if (spins % 5000 === 4999 && dead()) throw new Error("the world process (tools/fp_world.py) ended");
          continue;
        }
        pending += buf.toString("utf8", 0, n);
      }
    },
    close() {
      try { fs.closeSync(wfd); fs.closeSync(rfd); } catch (e) { /* gone */ }
      child.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function runConfig(name, cfg) {
  const v = await vm(Boolean(process.env.FOOTPRINT_VERBOSE));
  const scenario = Object.assign({ t0: 0 }, cfg.scenario);
  const world = openWorld(scenario);
  let rpcs = 0;
  let now = 0;
  v.mp.registerJsModule("fpjs", {
    rpc: (method, t, ...args) => { rpcs++; now = t; return world.call(method, t, args); },
  });
  const t0 = Date.now();
  let res;
  try {
    v.run("import gc, sys, micropython\nimport fp_device as D\nD.VERBOSE[0] = " + (process.env.FOOTPRINT_VERBOSE ? "True" : "False") +
          "\nhw = D.make_hw('/flash', " + JSON.stringify({ wifi_down: cfg.scenario.wifi_down }) + ")");
    const base = v.mem();
    // build() is handed the JSON text, as load_file reads it on the device
    v.run("app = D.build(hw, " + JSON.stringify(JSON.stringify(cfg.doc)) + ")");
    // every module imported at any time counts for the imports figure (config is dropped
    // after it has been read, as apps/SMM.py does)
    const imported = new Set(JSON.parse(v.value("__import__('json').dumps(list(D.imported()))")));
    const built = v.mem() - base;
    v.run("app.start()");
    const started = v.mem() - base;
    let peak = started;
    let peakAt = 0;
    const hourly = [];
    const slices = Math.round(cfg.hours * 3600000 / SLICE_MS);
    for (let i = 1; i <= slices; i++) {
      v.run("D.run(app, " + SLICE_MS + ")");
      const m = v.mem() - base;
      if (m > peak) { peak = m; peakAt = i * SLICE_MS / 1000; }
      if (i % (3600000 / SLICE_MS) === 0) hourly.push(m);
      // Buttons after the first hour: B twice (chart, diagnostics), B back, A flip, long A twice.
      const press = process.env.FOOTPRINT_NO_PRESS ? null : PRESSES[i - Math.round(3600000 / SLICE_MS)];
      if (press) v.run("D.press('" + press + "')");
    }
    const end = v.mem() - base;
    const qEnd = v.qstrs();
    JSON.parse(v.value("__import__('json').dumps(list(D.imported()))")).forEach((m) => imported.add(m));
    const modules = [...imported].sort();
    const st = JSON.parse(v.value("__import__('json').dumps(D.summary())"));
    res = { hours: cfg.hours, qstrs_end: qEnd, built, after_start: started, peak, peak_at_s: peakAt, end, hourly, modules, app: st,
            world: world.call("quit", slices * SLICE_MS, []), rpcs, seconds: (Date.now() - t0) / 1000 };
  } finally {
    world.close();
  }
  return res;
}

async function main() {
  const result = { imports: {}, runs: {} };
  if (plan.modules_only) {
    result.imports.all = await imports(plan.order);
    process.stdout.write("@@FOOTPRINT " + JSON.stringify(result) + "\n");
    return;
  }
  for (const [name, cfg] of Object.entries(plan.runs)) result.runs[name] = await runConfig(name, cfg);
  // What each run imported, in dependency order: the resident code of that config.
  for (const name of Object.keys(plan.runs)) {
    const loaded = result.runs[name].modules;
    result.imports[name] = await imports(plan.order.filter((m) => loaded.includes(m)));
  }
  process.stdout.write("@@FOOTPRINT " + JSON.stringify(result) + "\n");
}

main().catch((e) => {
  console.error("footprint: " + (e && e.message ? e.message : String(e)));
  process.exit(1);
});
