// One line per step of a gpu-check.sh stage, from the stage's folder (steps.tsv and each step's
// output): a bench's tokens/s and memory, a test file's pass/fail counts, an error's one line.
// Printed at the end of every stage so the figures arrive in the device call's output even when its
// files do not (the device machine returns at most 8 files). Plain JavaScript: it runs under the
// carried Node without tsx or the bundles.
//   node scripts/gpu/summary.mjs .gpu-out/bench-1b

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2];
if (!dir || !existsSync(join(dir, 'steps.tsv'))) {
  console.error('usage: summary.mjs STAGE_DIR (a folder with steps.tsv)');
  process.exit(2);
}

const clip = (s, n = 160) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const gb = (mb) => `${(mb / 1024).toFixed(1)} GB`;

/** The last line of a file that parses as JSON (a step's stdout: its one --json object). */
function lastJson(text) {
  const lines = text.trim().split('\n').reverse();
  for (const l of lines) {
    try {
      return JSON.parse(l);
    } catch {}
  }
  return null;
}

function describeJson(j) {
  if (!j) return 'no JSON';
  if (j.error) return `error ${j.error.code ?? j.error.type}: ${clip(j.error.message ?? '')}`;
  if (j.tokens_per_s != null) {
    const parts = [`${Number(j.tokens_per_s).toFixed(1)} tok/s`];
    if (j.peak_gpu_mb != null) parts.push(`GPU ${gb(j.peak_gpu_mb)}`);
    if (j.peak_rss_mb != null) parts.push(`RSS ${gb(j.peak_rss_mb)}`);
    parts.push([j.device, j.dtype, j.base_form].filter(Boolean).join(' '));
    if (j.recompute != null) parts.push(j.recompute ? 'replayed' : 'kept');
    if (j.loss != null) parts.push(`loss ${Number(j.loss).toFixed(4)}`);
    if (j.us_per_node != null)
      parts.push(`${j.us_per_node} µs a node (${j.decode_loop_nodes} a token, ${j.decode_step} step)`);
    return parts.join(' · ');
  }
  // `generate --json`: where and how it decoded.
  if (j.text !== undefined && j.tokensPerRun !== undefined)
    return `${j.tokens?.length ?? '?'} tokens · ${j.device} · ${j.tokensPerRun} a run · ${j.step ?? 'no loop'} step · ${Number(j.decodeTokensPerSecond).toFixed(1)} tok/s`;
  // placement.mjs: nodes per provider in each graph, and the ops left to the CPU.
  if (j.training?.counts) {
    const graph = (name) => {
      const c = j[name].counts;
      const total = (p) => Object.values(c[p] ?? {}).reduce((a, b) => a + b, 0);
      const gpu = Object.keys(c).filter((p) => p !== 'CPUExecutionProvider');
      const cpuOps = Object.entries(c.CPUExecutionProvider ?? {}).map(([op, n]) => `${op} ${n}`);
      return `${name}: ${gpu.map((p) => `${p.replace('ExecutionProvider', '')} ${total(p)}`).join(', ')}, CPU ${total('CPUExecutionProvider')} (${cpuOps.join(', ')})`;
    };
    return clip(`${graph('training')} · ${graph('generation')}`, 600);
  }
  // `devices --json`: each provider's state, and what auto picks.
  if (Array.isArray(j.providers))
    return clip(
      `${j.providers.map((p) => `${p.name} ${p.state}${p.reason ? ` (${p.reason})` : ''}`).join('; ')}; auto → ${j.auto?.provider ?? j.auto}`,
      400,
    );
  return clip(JSON.stringify(j));
}

/** node --test's spec report: its totals and the first failing tests. */
function describeTests(text) {
  const count = (k) => text.match(new RegExp(`ℹ ${k} (\\d+)`))?.[1];
  const failed = text
    .split('\n')
    .filter((l) => /^\s*✖ /.test(l) && !/failing tests:/.test(l))
    .map((l) =>
      l
        .trim()
        .replace(/^✖ /, '')
        .replace(/ \([\d.]+ms\)$/, ''),
    );
  const unique = [...new Set(failed)].slice(0, 4);
  const totals = `tests ${count('tests') ?? '?'} pass ${count('pass') ?? '?'} fail ${count('fail') ?? '?'} skipped ${count('skipped') ?? '?'}`;
  return unique.length ? `${totals}; failing: ${unique.map((t) => clip(t, 80)).join(' | ')}` : totals;
}

const rows = readFileSync(join(dir, 'steps.tsv'), 'utf8')
  .trim()
  .split('\n')
  .map((l) => l.split('\t'));
const failed = rows.filter((r) => r[1] !== '0').length;
console.log(`== ${dir}: ${rows.length} steps, ${failed} failed`);
if (existsSync(join(dir, 'gpu.txt')))
  console.log(`   gpu: ${readFileSync(join(dir, 'gpu.txt'), 'utf8').trim()}`);
for (const [name, rc, secs] of rows) {
  let what = '';
  for (const ext of ['json', 'txt']) {
    const f = join(dir, `${name}.${ext}`);
    if (!existsSync(f)) continue;
    const text = readFileSync(f, 'utf8');
    what =
      ext === 'json'
        ? describeJson(lastJson(text))
        : /ℹ tests \d+/.test(text)
          ? describeTests(text)
          : clip(text.trim().split('\n').pop() ?? '');
  }
  // A failure with nothing else to show: the last error line it wrote to stderr (an uncaught
  // exception ends with Node's version line, not its message).
  const err = join(dir, `${name}.err`);
  if (rc !== '0' && (!what || what === 'no JSON') && existsSync(err)) {
    const lines = readFileSync(err, 'utf8').trim().split('\n');
    what = clip(lines.findLast((l) => /error/i.test(l)) ?? lines.pop() ?? '');
  }
  // The engine's own fallbacks, said as notices (stdout or stderr): the fused decoding step that did
  // not run on the GPU, a provider that did not start, a half dtype without kernels there. And its
  // decisions: the base weights `auto` picked, the dtype it computes in.
  const logged = [`${name}.json`, `${name}.txt`, `${name}.err`]
    .map((x) => join(dir, x))
    .filter((f) => existsSync(f))
    .flatMap((f) => readFileSync(f, 'utf8').split('\n'));
  // (Plain lines on stderr, or there the `{"event":"log","message":…}` events of a --json stream.)
  const message = (l) => (l.startsWith('{') ? (lastJson(l)?.message ?? '') : l.trim());
  const notice = logged
    .map(message)
    .find((m) =>
      /fused decoding step did not run|unavailable — |has no kernels where the session runs/.test(m),
    );
  if (notice) what += ` · NOTICE ${clip(notice.trim(), 200)}`;
  const decided = logged
    .map(message)
    .filter((m) => /^base weights: \S+ \(automatic\)|^computing in \w+/.test(m));
  if (decided.length) what += ` · ${[...new Set(decided.map((m) => clip(m, 90)))].join('; ')}`;
  console.log(`   ${name.padEnd(28)} ${rc === '0' ? 'ok  ' : `rc ${rc}`} ${secs.padStart(5)}  ${what}`);
}
