#!/usr/bin/env node
// Runs an ONNX model with ONNX Runtime (CPU, one thread) on a float32 .npy
// array one image at a time -- so a file whose batch axis is fixed at 1
// (torch.onnx.export's default) runs as it is -- and writes the first output
// for all images as one float32 .npy. Prints one JSON line:
//   {"input": NAME, "output": NAME, "shape": [...], "ms_per_image": median}
//
// usage: node ort_run.js MODEL.onnx IN.npy OUT.npy
//
// It reuses tools/ort's reader, writer and onnxruntime-node install
// (npm install --ignore-scripts in tools/ort).
'use strict';

const fs = require('fs');
const path = require('path');

const ortDir = process.env.SLIMGO_ORT_DIR || path.join(__dirname, '..', '..', 'tools', 'ort');

function die(msg) {
  process.stderr.write(`ort_run.js: ${msg}\n`);
  process.exit(2);
}

function readNpy(file) {
  const b = fs.readFileSync(file);
  if (b.toString('latin1', 0, 6) !== '\x93NUMPY') die(`${file}: not a .npy file`);
  const major = b[6];
  const hlen = major === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8);
  const off = major === 1 ? 10 : 12;
  const header = b.toString('latin1', off, off + hlen);
  if (!/'descr':\s*'<f4'/.test(header) || /'fortran_order':\s*True/.test(header)) die(`${file}: want float32 C order`);
  const dims = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const n = dims.reduce((a, d) => a * d, 1);
  const body = b.subarray(off + hlen);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = body.readFloatLE(4 * i);
  return { dims, data };
}

function writeNpy(file, dims, data) {
  let dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  dict = dict.padEnd(total - 11, ' ') + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(dict.length, 8);
  const body = Buffer.alloc(4 * data.length);
  for (let i = 0; i < data.length; i++) body.writeFloatLE(data[i], 4 * i);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(dict, 'latin1'), body]));
}

async function main() {
  const [model, inFile, outFile] = process.argv.slice(2);
  if (!outFile) die('usage: node ort_run.js MODEL.onnx IN.npy OUT.npy');
  let ort;
  try {
    ort = require(path.join(ortDir, 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    die(`onnxruntime-node is not installed: run "npm install --ignore-scripts" in ${ortDir} (${e.message})`);
  }
  const x = readNpy(inFile);
  let session;
  try {
    session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 });
  } catch (e) {
    die(`${model}: ONNX Runtime cannot load the model: ${e.message}`);
  }
  const batch = x.dims[0];
  const per = x.data.length / batch;
  const outs = [];
  const times = [];
  let odims;
  for (let i = 0; i < batch; i++) {
    const t = new ort.Tensor('float32', x.data.slice(i * per, (i + 1) * per), [1, ...x.dims.slice(1)]);
    const t0 = process.hrtime.bigint();
    let r;
    try {
      r = await session.run({ [session.inputNames[0]]: t });
    } catch (e) {
      die(`${model}: ONNX Runtime failed: ${e.message}`);
    }
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const y = r[session.outputNames[0]];
    odims = y.dims.map(Number);
    outs.push(y.data);
  }
  const n = outs.reduce((a, o) => a + o.length, 0);
  const all = new Float32Array(n);
  let k = 0;
  for (const o of outs) { all.set(o, k); k += o.length; }
  const dims = [batch, ...odims.slice(1)];
  writeNpy(outFile, dims, all);
  times.sort((a, b) => a - b);
  process.stdout.write(JSON.stringify({ input: session.inputNames[0], output: session.outputNames[0], shape: dims, ms_per_image: times[times.length >> 1] }) + '\n');
}

main().catch((e) => die(e.stack || String(e)));
