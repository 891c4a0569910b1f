#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (CPU) on a float32 .npy array fed to
// the model's first input, and writes the model's first output as a float32
// .npy file. Prints one JSON line on stdout:
//   {"input": NAME, "output": NAME, "shape": [...], "ms": median run time,
//    "min_ms": fastest run, "cpu_ms": process CPU time (user+system) per run}
//
// usage: node run.js MODEL.onnx IN.npy OUT.npy [MODEL2 IN2 OUT2 ...] [--repeat N] [--opt disabled|basic|extended|all] [--threads T]
//                   [--timing [--warmup W] [--min-ms MS]] [--all-outputs]
//
// Several MODEL IN OUT triples run in one process (one JSON line each), which
// saves the runtime's start-up per model in tests. --threads sets the
// session's intra-op thread count (default 1); --repeat N times N runs after
// one untimed warm-up run when N > 1. --timing is the speed mode of
// `slimgo bench` and slimgo's speed figures: W untimed warm-up runs
// (default 1; 0 allowed), then timed runs until both N have run and MS
// milliseconds have gone by (at most 10000); the JSON line also carries
// "best_ms" and "median_ms" (fastest and median timed run), "runs" and
// "threads". Without --timing the behaviour and the output are unchanged.
// --all-outputs also writes every output k (in the session's order, the
// first included) to OUT with its .npy suffix replaced by .out<k>.npy, and
// adds "outputs" (their names) and "shapes" to the JSON line: for models
// with several outputs, such as detectors' head maps. OUT itself is
// written as before.
// Install the runtime once with `npm install --ignore-scripts` in this
// directory (the CPU library ships inside the onnxruntime-node package).
'use strict';

const fs = require('fs');
const path = require('path');

function die(msg) {
  process.stderr.write(`run.js: ${msg}\n`);
  process.exit(2);
}

// readNpy parses a .npy file holding float32 or float64 (converted) data in
// C order, little endian.
function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.length < 10 || b.toString('latin1', 0, 6) !== '\x93NUMPY') die(`${file}: not a .npy file`);
  const major = b[6];
  let hlen, off;
  if (major === 1) { hlen = b.readUInt16LE(8); off = 10; }
  else if (major === 2 || major === 3) { hlen = b.readUInt32LE(8); off = 12; }
  else die(`${file}: unsupported .npy version ${major}`);
  const header = b.toString('latin1', off, off + hlen);
  const descr = /'descr':\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shape) die(`${file}: malformed header ${JSON.stringify(header)}`);
  if (fortran[1] === 'True') die(`${file}: Fortran-order arrays are not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map((s) => parseInt(s, 10));
  const n = dims.reduce((a, d) => a * d, 1);
  const body = b.subarray(off + hlen);
  const out = new Float32Array(n);
  if (descr[1] === '<f4') {
    if (body.length !== 4 * n) die(`${file}: shape [${dims}] needs ${4 * n} bytes, file has ${body.length}`);
    for (let i = 0; i < n; i++) out[i] = body.readFloatLE(4 * i);
  } else if (descr[1] === '<f8') {
    if (body.length !== 8 * n) die(`${file}: shape [${dims}] needs ${8 * n} bytes, file has ${body.length}`);
    for (let i = 0; i < n; i++) out[i] = body.readDoubleLE(8 * i);
  } else {
    die(`${file}: dtype ${descr[1]} is not supported (want <f4 or <f8)`);
  }
  return { dims, data: out };
}

// writeNpy writes a float32 C-order .npy (version 1.0, 64-byte aligned data).
function writeNpy(file, dims, data) {
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shape}, }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - 10 - 1, ' ') + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  const body = Buffer.alloc(4 * data.length);
  for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i], 4 * i);
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp${process.pid}`);
  fs.writeFileSync(tmp, Buffer.concat([head, Buffer.from(dict, 'latin1'), body]));
  fs.renameSync(tmp, file);
}

async function main() {
  const args = process.argv.slice(2);
  let repeat = 1;
  let opt = 'all';
  let threads = 1;
  const timing = { on: false, warmup: 1, minMs: 0, all: false };
  const pos = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--repeat') repeat = parseInt(args[++i], 10);
    else if (args[i] === '--opt') opt = args[++i];
    else if (args[i] === '--threads') threads = parseInt(args[++i], 10);
    else if (args[i] === '--timing') timing.on = true;
    else if (args[i] === '--warmup') timing.warmup = parseInt(args[++i], 10);
    else if (args[i] === '--min-ms') timing.minMs = parseFloat(args[++i]);
    else if (args[i] === '--all-outputs') timing.all = true;
    else pos.push(args[i]);
  }
  if (pos.length === 0 || pos.length % 3 !== 0 || !(repeat >= 1) || !(threads >= 1) || !(timing.warmup >= 0) || !(timing.minMs >= 0)) {
    die('usage: node run.js MODEL.onnx IN.npy OUT.npy [MODEL2 IN2 OUT2 ...] [--repeat N] [--opt disabled|basic|extended|all] [--threads T] [--timing [--warmup W] [--min-ms MS]] [--all-outputs]');
  }
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    die(`onnxruntime-node is not installed: run "npm install --ignore-scripts" in ${__dirname} (${e.message})`);
  }
  for (let j = 0; j < pos.length; j += 3) {
    await runOne(ort, pos[j], pos[j + 1], pos[j + 2], repeat, opt, threads, timing);
  }
}

async function runOne(ort, model, inFile, outFile, repeat, opt, threads, timing) {
  const x = readNpy(inFile);
  let session;
  try {
    session = await ort.InferenceSession.create(model, {
      graphOptimizationLevel: opt,
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
    });
  } catch (e) {
    die(`${model}: ONNX Runtime cannot load the model: ${e.message}`);
  }
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.dims) };
  const times = [];
  let cpu = 0;
  let result;
  const warmup = timing.on ? timing.warmup : (repeat > 1 ? 1 : 0);
  for (let r = 0; r < warmup; r++) {
    try {
      await session.run(feeds);
    } catch (e) {
      die(`${model}: ONNX Runtime failed: ${e.message}`);
    }
  }
  const start = process.hrtime.bigint();
  const more = () => timing.on && Number(process.hrtime.bigint() - start) / 1e6 < timing.minMs && times.length < 10000;
  while (times.length < repeat || more()) {
    const t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    try {
      result = await session.run(feeds);
    } catch (e) {
      die(`${model}: ONNX Runtime failed: ${e.message}`);
    }
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpu += (c.user + c.system) / 1e3;
  }
  const name = session.outputNames[0];
  const y = result[name];
  if (y.type !== 'float32') die(`${model}: first output ${name} is ${y.type}, want float32`);
  writeNpy(outFile, y.dims.map(Number), y.data);
  times.sort((a, b) => a - b);
  const report = { input: session.inputNames[0], output: name, shape: y.dims.map(Number), ms: times[times.length >> 1], min_ms: times[0], cpu_ms: cpu / times.length };
  if (timing.all) {
    const base = outFile.endsWith('.npy') ? outFile.slice(0, -4) : outFile;
    report.outputs = session.outputNames;
    report.shapes = session.outputNames.map((n, k) => {
      const t = result[n];
      if (t.type !== 'float32') die(`${model}: output ${n} is ${t.type}, want float32`);
      writeNpy(`${base}.out${k}.npy`, t.dims.map(Number), t.data);
      return t.dims.map(Number);
    });
  }
  if (timing.on) Object.assign(report, { best_ms: times[0], median_ms: times[times.length >> 1], runs: times.length, threads });
  process.stdout.write(JSON.stringify(report) + '\n');
}

main().catch((e) => die(e.stack || String(e)));
