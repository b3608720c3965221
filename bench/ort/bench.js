#!/usr/bin/env node
// ONNX Runtime side of `make bench-compare` (bench/compare.sh): times one ONNX model on the CPU
// execution provider and prints JSON latency stats with the same keys and percentile method
// (nearest rank) as `edgeloop bench --json`. Bench-only: edgeloop never depends on this.
//
//   node bench/ort/bench.js MODEL.onnx [--threads N] [--runs N] [--warmup N] [--input x.npy]
//       [--input-shape NAME=1,3,224,224]
//
// Session: intra-op threads = --threads, inter-op threads 1, graph optimizations "all",
// sequential execution. Input: the .npy given (float32, one-input models), else deterministic
// uniform [-1, 1) floats (zeros for other dtypes) of the model's input shape; symbolic
// dimensions are 1 unless --input-shape fixes them.
'use strict';

const fs = require('fs');
const path = require('path');

function usage(message) {
  if (message) process.stderr.write(`bench.js: error: ${message}\n`);
  process.stderr.write(
      'usage: node bench.js MODEL.onnx [--threads N] [--runs N] [--warmup N] [--input x.npy] [--input-shape NAME=D1,D2,...]\n');
  process.exit(message ? 2 : 0);
}

function parseArgs(argv) {
  const a = {model: null, threads: 1, runs: 100, warmup: 10, input: null, shapes: {}};
  const positiveInt = (flag, v, min) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`${flag} must be an integer >= ${min}, got '${v}'`);
    return n;
  };
  for (let i = 0; i < argv.length; ++i) {
    const flag = argv[i];
    const value = () => (i + 1 < argv.length ? argv[++i] : usage(`${flag} needs a value`));
    if (flag === '--help' || flag === '-h') usage();
    else if (flag === '--threads') a.threads = positiveInt(flag, value(), 1);
    else if (flag === '--runs') a.runs = positiveInt(flag, value(), 1);
    else if (flag === '--warmup') a.warmup = positiveInt(flag, value(), 0);
    else if (flag === '--input') a.input = value();
    else if (flag === '--input-shape') {
      const spec = value();
      const eq = spec.lastIndexOf('=');
      if (eq <= 0) usage(`--input-shape '${spec}': expected NAME=D1,D2,...`);
      a.shapes[spec.slice(0, eq)] = spec.slice(eq + 1).split(',').map((d) => positiveInt('--input-shape', d, 0));
    } else if (flag.startsWith('-')) usage(`unknown option ${flag}`);
    else if (a.model === null) a.model = flag;
    else usage(`unexpected argument ${flag}`);
  }
  if (a.model === null) usage('no model given');
  if (!fs.existsSync(a.model)) usage(`${a.model} does not exist`);
  return a;
}

// Minimal .npy reader: float32 little-endian, C order, format versions 1-3.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${file} is not a .npy file`);
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']*)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || descr[1] !== '<f4') throw new Error(`${file}: only float32 ('<f4') inputs are supported`);
  if (/'fortran_order':\s*True/.test(header)) throw new Error(`${file}: Fortran order is not supported`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = dims.reduce((x, y) => x * y, 1);
  if (buf.length < start + 4 * count) throw new Error(`${file} is truncated`);
  const data = new Float32Array(count);
  for (let i = 0; i < count; ++i) data[i] = buf.readFloatLE(start + 4 * i);
  return {dims, data};
}

// Deterministic uniform [-1, 1) floats (a 32-bit xorshift; the values need not match edgeloop's).
function randomFloats(count, seed) {
  const out = new Float32Array(count);
  let s = (seed >>> 0) || 0x9e3779b9;
  for (let i = 0; i < count; ++i) {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    out[i] = (s >>> 8) * 2 ** -23 - 1;
  }
  return out;
}

const kTypedArrays = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array,
  uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array,
  bool: Uint8Array,
};

function makeFeeds(ort, session, args) {
  const feeds = {};
  const metas = session.inputMetadata || [];
  session.inputNames.forEach((name, k) => {
    const meta = metas.find((m) => m.name === name) || metas[k] || {};
    if (args.input) {
      if (session.inputNames.length !== 1) throw new Error('--input works only for one-input models');
      const {dims, data} = readNpy(args.input);
      feeds[name] = new ort.Tensor('float32', data, dims);
      return;
    }
    const type = meta.type || 'float32';
    const dims = args.shapes[name] ||
        (meta.shape || []).map((d) => (typeof d === 'number' && d >= 0 ? d : 1));
    if (!meta.shape && !args.shapes[name])
      throw new Error(`the input '${name}' has no known shape: give --input-shape ${name}=D1,D2,...`);
    const count = dims.reduce((x, y) => x * y, 1);
    const Ctor = kTypedArrays[type];
    if (!Ctor) throw new Error(`input '${name}' has dtype ${type}, which bench.js cannot make`);
    const data = type === 'float32' ? randomFloats(count, 0x5eed + k) : new Ctor(count);
    feeds[name] = new ort.Tensor(type, data, dims);
  });
  return feeds;
}

// Nearest-rank percentiles, as edgeloop's summarize() (src/edgeloop/base/stats.cc).
function summarize(samples) {
  const v = [...samples].sort((x, y) => x - y);
  const rank = (p) => v[Math.max(0, Math.ceil((p / 100) * v.length) - 1)];
  const mean = v.reduce((x, y) => x + y, 0) / v.length;
  return {min: v[0], p50: rank(50), p95: rank(95), p99: rank(99), mean};
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const ort = require('onnxruntime-node');
  const options = {
    executionProviders: ['cpu'],
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  };
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(args.model, options);
  const initMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const feeds = makeFeeds(ort, session, args);
  for (let i = 0; i < args.warmup; ++i) await session.run(feeds);
  const samples = [];
  for (let i = 0; i < args.runs; ++i) {
    const start = process.hrtime.bigint();
    await session.run(feeds);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  const latency = summarize(samples);
  let version = null;
  try {
    version = require(path.join(path.dirname(require.resolve('onnxruntime-node')), '..', 'package.json')).version;
  } catch (e) { /* version is informative only */ }
  process.stdout.write(JSON.stringify({
    runtime: 'onnxruntime-node',
    version,
    model: args.model,
    threads: args.threads,
    inputs: Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, {type: t.type, dims: t.dims}])),
    init_ms: initMs,
    latency_ms: latency,
    runs: args.runs,
    warmup: args.warmup,
    throughput_per_s: 1000 / latency.mean,
  }, null, 2) + '\n');
}

main().catch((e) => {
  process.stderr.write(`bench.js: error: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
