#!/usr/bin/env node
// Times every node of an ONNX model in ONNX Runtime (CPU) with the
// runtime's own profiler, to set beside slimgo's per-node times
// (go run ./bench/gemm/models -layers). Random uniform [0, 1) input of the
// model's first input's shape (a free dimension taken as 1).
//
// usage: node profile.js MODEL.onnx [--threads T] [--runs N] [--warmup W]
//
// Prints one line per node in execution order, "median_us op name" (the
// median over the runs after W warm-ups, default 5 of N = 50), then
// "model_run median_us": the runtime's whole-pass time, which excludes
// the JavaScript binding. All graph optimizations are on, so the nodes
// are ONNX Runtime's fused ones (e.g. Conv with its Relu, NCHWc reorders).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

function die(msg) {
  process.stderr.write(`profile.js: ${msg}\n`);
  process.exit(2);
}

function flag(args, name, def) {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = parseInt(args[i + 1], 10);
  if (!(v >= 0)) die(`${name} needs a number`);
  args.splice(i, 2);
  return v;
}

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

(async () => {
  const args = process.argv.slice(2);
  const threads = flag(args, '--threads', 1);
  const runs = Math.max(1, flag(args, '--runs', 50));
  const warmup = flag(args, '--warmup', 5);
  const batch = flag(args, '--batch', 0);
  if (args.length !== 1) die('usage: node profile.js MODEL.onnx [--threads T] [--runs N] [--warmup W] [--batch B]');
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    die(`onnxruntime-node is not installed here (npm install --ignore-scripts in ${__dirname}): ${e.message}`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slimgo-ortprof-'));
  let session;
  try {
    session = await ort.InferenceSession.create(args[0], {
      graphOptimizationLevel: 'all', executionProviders: ['cpu'],
      intraOpNumThreads: threads, interOpNumThreads: 1,
      enableProfiling: true, profileFilePrefix: path.join(dir, 'p'),
    });
  } catch (e) {
    die(`${args[0]}: ONNX Runtime cannot load the model: ${e.message}`);
  }
  const name = session.inputNames[0];
  const meta = session.inputMetadata ? session.inputMetadata.find((m) => m.name === name) : null;
  const dims = meta && meta.shape ? meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1)) : null;
  if (!dims) die('cannot read the input shape from the model');
  if (batch > 0) dims[0] = batch; // a model with a dynamic batch axis
  const x = new ort.Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, Math.random), dims);
  for (let i = 0; i < warmup + runs; i++) await session.run({ [name]: x });
  session.endProfiling(); // the node binding returns no file name: take the one file in dir
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  if (files.length !== 1) die(`expected one profile in ${dir}, found ${files.length}`);
  const events = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });
  const passes = events.filter((e) => e.cat === 'Session' && e.name === 'model_run').map((e) => e.dur).slice(warmup);
  const nodes = new Map();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const key = e.name.slice(0, -'_kernel_time'.length);
    if (!nodes.has(key)) nodes.set(key, { op: (e.args && e.args.op_name) || '?', dur: [] });
    nodes.get(key).dur.push(e.dur);
  }
  for (const [key, n] of nodes) console.log(`${median(n.dur.slice(warmup))} ${n.op} ${key}`);
  console.log(`model_run ${median(passes)}`);
})();
