// Heap part of `make bench`: the refresh path under real MicroPython (WebAssembly, v1.27, in Node).
//
// Loads the VM like tools/mp_test.mjs, copies lib/*.py and tools/{bp35emu,replay,bench_heap}.py to
// /lib, and drives tools/bench_heap.py through separate runPython calls, because a gc.collect()
// takes full effect only once control is back in JS:
//   setup (join on the emulator, record, pre-build every answer, switch to the replay UART/clock)
//   -> WARMUP refreshes -> collect, collect -> mem_alloc (M0)
//   -> GROWTH refreshes in STEPS slices, each followed by collect, collect -> mem_alloc
//   -> the same series over a loop that makes garbage without device code (noise floor)
//   -> harness loop alone, gc disabled (the loop's own bytes)
//   -> PER_CYCLE refreshes with gc disabled, mem_alloc delta per refresh, summed per kind
//   -> PER_CYCLE refreshes timed with time.ticks_us (device code only: no emulator behind the replay)
//   -> BREAKDOWN refreshes with wrappers around the parser and codec calls (where the bytes go).
// Prints one line `@@BENCH {json}` (read by tools/bench.py).  Exit 1 when the VM raised.
//
// usage: node tools/bench_mp.mjs [--warmup 50] [--growth 1000] [--per-cycle 120]
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const TOOLS = ["bp35emu.py", "replay.py", "bench_heap.py"];

function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? parseInt(process.argv[i + 1], 10) : dflt;
}

const WARMUP = arg("--warmup", 50);
const GROWTH = arg("--growth", 1000);
const PER_CYCLE = arg("--per-cycle", 120);
const STEPS = 4;  // at most 5 (the _m slots)
const BREAKDOWN = 60;
const SPARE = 12 + PER_CYCLE + BREAKDOWN;   // B.timed and B.breakdown run after the per-cycle window

async function main() {
  let out = "";
  const mp = await loadMicroPython({
    // gc.mem_alloc() walks the heap: its cost grows with heapsize (8 ms at 32 MB, 1 ms at 4 MB).
    // The VM adds heap areas on its own when this one is full.
    heapsize: 4 * 1024 * 1024,
    stdout: (line) => { out += line + "\n"; },
    stderr: (line) => { out += line + "\n"; },
  });
  mp.FS.mkdir("/lib");
  for (const f of fs.readdirSync(path.join(ROOT, "lib")).filter((f) => f.endsWith(".py"))) {
    mp.FS.writeFile("/lib/" + f, fs.readFileSync(path.join(ROOT, "lib", f)));
  }
  for (const f of TOOLS) mp.FS.writeFile("/lib/" + f, fs.readFileSync(path.join(ROOT, "tools", f)));

  const run = (code) => mp.runPython(code);
  const collect = () => { run("gc.collect()"); run("gc.collect()"); };
  const t0 = Date.now();
  run("import gc, sys\nimport bench_heap as B\n_m = [0] * 16\nB.setup(" + (WARMUP + GROWTH + PER_CYCLE + SPARE) + ")");
  const tSetup = Date.now();
  run("B.cycles(" + WARMUP + ")");
  collect();
  run("_m[0] = gc.mem_alloc()");
  const step = Math.floor(GROWTH / STEPS);
  for (let i = 1; i <= STEPS; i++) {
    run("B.cycles(" + (i === STEPS ? GROWTH - step * (STEPS - 1) : step) + ")");
    collect();
    run("_m[" + i + "] = gc.mem_alloc()");
  }
  const tGrowth = Date.now();
  // The same procedure over a garbage-making loop without device code: the noise floor.
  collect();
  run("_m[10] = gc.mem_alloc()");
  for (let i = 1; i <= STEPS; i++) {
    run("B.control(" + (i === STEPS ? GROWTH - step * (STEPS - 1) : step) + ")");
    collect();
    run("_m[" + (10 + i) + "] = gc.mem_alloc()");
  }
  const tControl = Date.now();
  collect();
  run("B.harness(" + PER_CYCLE + ")");
  run("_m[8] = B.S.acc[0]");
  collect();
  run("B.per_cycle(" + PER_CYCLE + ")");
  run("B.timed(" + PER_CYCLE + ")");
  collect();
  run("B.breakdown(" + BREAKDOWN + ")");
  const tEnd = Date.now();
  run(
    "B.report({'mem_series': _m[0:" + (STEPS + 1) + "], 'harness_bytes': _m[8], 'control_series': _m[10:" + (11 + STEPS) + "], 'per_cycle_acc': list(B.S.acc), " +
    "'warmup': " + WARMUP + ", 'growth_cycles': " + GROWTH + ", 'per_cycle_n': " + PER_CYCLE + ", " +
    "'micropython': '%d.%d.%d' % sys.implementation.version[:3], " +
    "'seconds': {'setup': " + (tSetup - t0) / 1000 + ", 'growth': " + (tGrowth - tSetup) / 1000 +
    ", 'control': " + (tControl - tGrowth) / 1000 +
    ", 'per_cycle': " + (tEnd - tControl) / 1000 + "}})",
  );
  process.stdout.write(out);
}

main().catch((e) => {
  console.error("bench_mp: " + ((e && e.message) ? e.message : String(e)));
  process.exit(1);
});
