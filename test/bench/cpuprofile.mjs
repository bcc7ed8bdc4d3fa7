/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): the top functions by self time, with dist/ positions
 * (dist/bundle/'s too) mapped back to src/ through the build's source maps. Used by `run.mjs --cpu-prof`; also standalone:
 *   node test/bench/cpuprofile.mjs FILE.cpuprofile [TOP]
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const maps = new Map();

function sourceMapFor(file) {
  if (!maps.has(file)) {
    let map = null;
    try {
      if (existsSync(`${file}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  return maps.get(file);
}

/** `file:line` of a call frame, in src/ when a source map knows it (line 1-based). */
export function locate(frame) {
  const { url, lineNumber, columnNumber } = frame;
  if (!url) return '(native)';
  if (!url.startsWith('file://')) return `${url}:${lineNumber + 1}`;
  const file = fileURLToPath(url);
  const map = file.includes('/dist/') ? sourceMapFor(file) : null;
  if (map) {
    const e = map.findEntry(lineNumber, columnNumber);
    if (e?.originalSource) {
      const src = e.originalSource.startsWith('file://') ? fileURLToPath(e.originalSource) : e.originalSource;
      const abs = src.startsWith('/') ? src : new URL(src, url).pathname;
      // dist/bundle/ maps to dist/*.js, whose own maps lead on to src/
      if (abs.includes('/dist/') && abs.endsWith('.js') && abs !== file)
        return locate({ url: `file://${abs}`, lineNumber: e.originalLine, columnNumber: e.originalColumn });
      return `${relative(ROOT, abs)}:${e.originalLine + 1}`;
    }
  }
  const rel = relative(ROOT, file);
  return `${rel.startsWith('..') ? file : rel}:${lineNumber + 1}`;
}

/** Top `top` entries by self time: [{ fn, at, selfMs, pct }], plus total sampled ms. */
export function summarise(profile, top = 15) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const dt = timeDeltas[i + 1] ?? 0; // the delta *after* a sample is the time spent in it
    self.set(samples[i], (self.get(samples[i]) ?? 0) + dt);
  }
  let total = 0;
  const agg = new Map();
  for (const [id, us] of self) {
    total += us;
    const f = byId.get(id).callFrame;
    const name = f.functionName || '(anonymous)';
    const at = name.startsWith('(') && !f.url ? '' : locate(f);
    const key = `${name}\u0000${at}`;
    agg.set(key, (agg.get(key) ?? 0) + us);
  }
  const rows = [...agg]
    .map(([key, us]) => {
      const [fn, at] = key.split('\u0000');
      return { fn, at, selfMs: us / 1000, pct: (100 * us) / total };
    })
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, top);
  return { totalMs: total / 1000, rows };
}

/** Self time grouped by area: recpull src/ files, node_modules packages, node: internals, GC/idle/program. */
export function byArea(profile) {
  const { rows, totalMs } = summarise(profile, Number.POSITIVE_INFINITY);
  const areas = new Map();
  for (const r of rows) {
    let area;
    if (r.fn.startsWith('(')) area = r.fn;
    else if (r.at.startsWith('src/')) area = r.at.replace(/:\d+$/, '');
    else if (r.at.includes('node_modules/')) area = `npm:${r.at.split('node_modules/').at(-1).split('/')[0]}`;
    else if (r.at.startsWith('node:')) area = 'node: internals';
    else area = 'other';
    areas.set(area, (areas.get(area) ?? 0) + r.selfMs);
  }
  return [...areas]
    .map(([area, ms]) => ({ area, ms, pct: (100 * ms) / totalMs }))
    .sort((a, b) => b.ms - a.ms);
}

export function printSummary(profile, top = 15, write = (s) => process.stdout.write(`${s}\n`)) {
  const { totalMs, rows } = summarise(profile, top);
  write(`cpu profile: ${(totalMs / 1000).toFixed(2)} s sampled; top ${rows.length} by self time`);
  for (const r of rows) {
    write(`  ${r.selfMs.toFixed(0).padStart(7)} ms ${r.pct.toFixed(1).padStart(5)}%  ${r.fn}  ${r.at}`);
  }
  write('by area:');
  for (const a of byArea(profile).slice(0, 10)) {
    write(`  ${a.ms.toFixed(0).padStart(7)} ms ${a.pct.toFixed(1).padStart(5)}%  ${a.area}`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: node test/bench/cpuprofile.mjs FILE.cpuprofile [TOP]\n');
    process.exit(2);
  }
  printSummary(JSON.parse(readFileSync(file, 'utf8')), Number(top ?? 15));
}
