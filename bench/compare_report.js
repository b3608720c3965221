#!/usr/bin/env node
// Turns the raw results of bench/compare.sh (one JSON object a line) into the markdown table
// (stdout and --md) and the JSON report (--json). Per configuration: the median of the rounds'
// p50s, and their min. Node is there anyway for ONNX Runtime; this needs no package.
'use strict';

const fs = require('fs');
const os = require('os');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];

const lines = fs.readFileSync(args.raw, 'utf8').split('\n').filter((l) => l.trim().length);
const records = lines.map((l, i) => {
  try {
    return JSON.parse(l);
  } catch (e) {
    throw new Error(`raw result line ${i + 1} is not JSON: ${e.message}`);
  }
});
const labels = Object.fromEntries((args.labels || '').split('\n').filter((l) => l.includes('='))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));

const median = (xs) => {
  const v = [...xs].sort((a, b) => a - b);
  const n = v.length;
  return n === 0 ? null : n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
};
const min = (xs) => (xs.length ? Math.min(...xs) : null);

const kConfigs = ['ort-fp32', 'edgeloop-fp32', 'edgeloop-int8', 'edgeloop-w4a8'];
const runs = records.filter((r) => r.kind === 'run');
const inspects = records.filter((r) => r.kind === 'inspect');
const models = [...new Set(runs.map((r) => r.model))];
const results = [];
for (const model of models) {
  const threadCounts = [...new Set(runs.filter((r) => r.model === model).map((r) => r.threads))].sort((a, b) => a - b);
  const weightBytes = Object.fromEntries(
      inspects.filter((r) => r.model === model).map((r) => [r.variant, r.inspect.weight_bytes]));
  const fileBytes = Object.fromEntries(
      inspects.filter((r) => r.model === model).map((r) => [r.variant, r.inspect.file_bytes]));
  for (const threads of threadCounts) {
    const configs = {};
    for (const c of kConfigs) {
      const rs = runs.filter((r) => r.model === model && r.threads === threads && r.config === c);
      if (!rs.length) continue;
      const p50s = rs.map((r) => r.result.latency_ms.p50);
      const entry = {
        p50_ms_median: median(p50s),
        p50_ms_min: min(p50s),
        p50_ms_rounds: p50s,
        mean_ms_median: median(rs.map((r) => r.result.latency_ms.mean)),
        p99_ms_median: median(rs.map((r) => r.result.latency_ms.p99)),
      };
      if (c.startsWith('edgeloop')) {
        entry.init_ms_median = median(rs.map((r) => r.result.init_ms.total));
        entry.backends = [...new Set(rs.flatMap((r) => r.result.backends))];
        entry.golden = [...new Set(rs.map((r) => r.result.golden))];
        const messages = [...new Set(rs.map((r) => r.result.golden_message).filter((x) => x))];
        if (messages.length) entry.golden_messages = messages;
        entry.arena_bytes = rs[0].result.arena_bytes;
      } else {
        entry.init_ms_median = median(rs.map((r) => r.result.init_ms));
        entry.version = rs[0].result.version;
      }
      configs[c] = entry;
    }
    const p = (c) => (configs[c] ? configs[c].p50_ms_median : null);
    const ratio = (a, b) => (a !== null && b !== null && b > 0 ? a / b : null);
    results.push({
      model,
      label: labels[model] || model,
      threads,
      configs,
      ratios: {
        fp32_vs_ort: ratio(p('edgeloop-fp32'), p('ort-fp32')),
        int8_vs_fp32: ratio(p('edgeloop-int8'), p('edgeloop-fp32')),
        w4a8_vs_int8: ratio(p('edgeloop-w4a8'), p('edgeloop-int8')),
      },
      weight_bytes: weightBytes,
      file_bytes: fileBytes,
    });
  }
}

const ms = (x) => (x === null || x === undefined ? '—' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(x >= 1 ? 2 : 3));
const mismatch = (c) => c && c.golden && c.golden.includes('mismatch');
const cell = (c) => (c ? `${ms(c.p50_ms_median)} (${ms(c.p50_ms_min)})${mismatch(c) ? ' ‡' : ''}` : '—');
const times = (x) => (x === null ? '—' : `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}×`);
const mib = (b) => (b === undefined ? '—' : b >= 1 << 20 ? `${(b / 1048576).toFixed(2)} MiB` : `${(b / 1024).toFixed(0)} KiB`);

const ortVersion = (runs.find((r) => r.config === 'ort-fp32') || {result: {}}).result.version || null;
// The backends edgeloop ran each variant on (Program::backends_used(), over every model and round).
const backends = ['fp32', 'int8', 'w4a8'].map((v) => {
  const used = [...new Set(results.flatMap((r) => (r.configs[`edgeloop-${v}`] || {backends: []}).backends))];
  return used.length ? `${v.toUpperCase()} ${used.join('+')}` : null;
}).filter((x) => x);
let md = '';
md += '| model | threads | ORT FP32 p50 | edgeloop FP32 p50 | FP32/ORT | INT8 p50 | INT8/FP32 | W4A8 p50 | W4A8/INT8 | weights INT8 → W4A8 | edgeloop init FP32 / INT8 / W4A8 |\n';
md += '|---|---|---|---|---|---|---|---|---|---|---|\n';
for (const r of results) {
  const c = r.configs;
  const init = ['edgeloop-fp32', 'edgeloop-int8', 'edgeloop-w4a8'].map((k) => (c[k] ? ms(c[k].init_ms_median) : '—')).join(' / ');
  const w = r.weight_bytes;
  const wcell = w.int8 && w.w4a8 ? `${mib(w.int8)} → ${mib(w.w4a8)} (${(w.w4a8 / w.int8).toFixed(2)}×)` : '—';
  md += `| ${r.label} | ${r.threads} | ${cell(c['ort-fp32'])} | ${cell(c['edgeloop-fp32'])} | ${times(r.ratios.fp32_vs_ort)} | ` +
        `${cell(c['edgeloop-int8'])} | ${times(r.ratios.int8_vs_fp32)} | ${cell(c['edgeloop-w4a8'])} | ` +
        `${times(r.ratios.w4a8_vs_int8)} | ${wcell} | ${init} ms |\n`;
}
const anyMismatch = results.some((r) => Object.values(r.configs).some(mismatch));
const cpu = (os.cpus()[0] || {}).model || 'unknown CPU';
const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
md += `\nLatencies in ms: the median over ${args.rounds} interleaved rounds of each round's p50 of ${args.runs} ` +
      `timed inferences (after ${args.warmup} warm-up), the rounds' minimum in brackets. Ratios are of the medians ` +
      `(below 1: faster). ONNX Runtime ${ortVersion || '?'} (onnxruntime-node, CPU EP, graph optimizations all, ` +
      `inter-op 1); edgeloop backends used: ${backends.join(', ') || '?'}; init = load+verify+prepare, median. ` +
      `${os.cpus().length} × ${cpu}, load average at the end ${load}; edgeloop ${args.commit || '?'}.\n` +
      (anyMismatch ? '‡ the output did not match the artifact\'s golden vector within its tolerance on these ' +
                     'backends (timed anyway; `golden_messages` in the JSON says by how much).\n' : '') +
      `Command: \`${args.command || 'bench/compare.sh'}\`\n`;

const report = {
  command: args.command || null,
  commit: args.commit || null,
  date: new Date().toISOString(),
  machine: {cpu, cores: os.cpus().length, loadavg_at_end: os.loadavg()},
  onnxruntime_version: ortVersion,
  runs: Number(args.runs),
  warmup: Number(args.warmup),
  rounds: Number(args.rounds),
  summary: 'per configuration: median and min over rounds of each round\'s p50 (ms); ratios of the medians',
  results,
  raw: runs,
};
if (args.json) fs.writeFileSync(args.json, JSON.stringify(report, null, 2) + '\n');
if (args.md) fs.writeFileSync(args.md, md);
process.stdout.write(md);
