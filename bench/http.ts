/**
 * bench:http — what a user meets over HTTP, against a bare Fastify route returning a constant JSON, in the same run:
 *   a new formula each request; a new structure each request to a structure model; one request of 1000 new formulas;
 *   /health/live p99 while 1000-structure requests compute; RSS before and after; and, last and labelled, a repeated
 *   formula (answered from the memo).
 *
 *   npm run bench:http -- [--model expt_bandgap] [--structure-model jarvis_2d_gap_opt] [--seconds 10] [--connections 32] [--write]
 *
 * The API runs as its own process on its own database (matmoe_bench), so this process only generates load.
 */
import { once } from 'node:events';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../src/paths.js';
import { writeDocSection } from '../scripts/lib/doc-section.js';
import { readSourceRows } from '../scripts/lib/sources.js';
import { readTaskRows, taskIndex } from '../scripts/lib/tasks.js';
import { load, percentile, rssOf, start, timeRequests, type LoadResult } from './http-load.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    model: { type: 'string', default: 'expt_bandgap' },
    'structure-model': { type: 'string' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    write: { type: 'boolean', default: false },
  },
  strict: true,
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const json = (o: unknown) => JSON.stringify(o);

// New materials: formulas from the Materials Project formation-energy source set (132k, almost all distinct), and
// crystals of at most 20 sites from the paper's structure tasks.
const formulas = [...new Set(readSourceRows('mp_e_form').map((r) => r.formula))];
const structures = taskIndex().filter((t) => t.available && t.has_structures).flatMap((t) => readTaskRows(t.key))
  .map((r) => r.structure as { sites: unknown[] }).filter((s) => s.sites.length <= 20);

const port = 18000 + Math.floor(Math.random() * 1000);
const env = { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/matmoe_bench', QUEUE_PREFIX: 'matmoe-bench', API_KEYS: '', RATE_LIMIT_ANONYMOUS: '0', RATE_LIMIT_KEYED: '0' };
const api = await start(['src/cli.ts', 'api'], env, port);
const bare = await start(['bench/bare-server.ts'], {});
const url = `http://127.0.0.1:${api.port}/v1/predict`;
const rows: [string, LoadResult][] = [];
try {
  const models = (await (await fetch(`http://127.0.0.1:${api.port}/v1/models?limit=100`)).json()) as { items: { name: string; inputKinds: string[]; experts: { kind: string }[] }[] };
  const structureModel = values['structure-model'] ?? models.items.find((m) => m.experts.some((e) => e.kind === 'cgcnn'))?.name;
  if (!structureModel) throw new Error('no shipped model reads structures: pass --structure-model');

  // Warm both servers (JIT, inference threads, model caches) before measuring.
  await load(url, { connections, seconds: 2, bodies: formulas.slice(-4000).map((f) => json({ model: values.model, inputs: [{ formula: f }] })) });
  await load(url, { connections, seconds: 2, bodies: structures.slice(-500).map((s) => json({ model: structureModel, inputs: [{ structure: s }] })) });
  await load(`http://127.0.0.1:${bare.port}/v1/predict`, { connections, seconds: 2, body: '{}' });
  const rssBefore = await rssOf(api.port);

  rows.push(['bare Fastify route, constant JSON', await load(`http://127.0.0.1:${bare.port}/v1/predict`, { connections, seconds, body: '{}' })]);
  rows.push([`a new formula each request (${values.model})`, await load(url, { connections, seconds, bodies: formulas.slice(0, 75_000).map((f) => json({ model: values.model, inputs: [{ formula: f }] })) })]);
  rows.push([`a new structure (≤ 20 sites) each request (${structureModel})`, await load(url, { connections, seconds, bodies: structures.slice(0, 12_000).map((s) => json({ model: structureModel, inputs: [{ structure: s }] })) })]);

  // One request of 1000 new formulas, ten times in a row.
  const batches = Array.from({ length: 10 }, (_, b) => json({ model: values.model, inputs: formulas.slice(80_000 + b * 1000, 81_000 + b * 1000).map((formula) => ({ formula })) }));
  const batchMs = await timeRequests(url, batches);

  // /health/live while 1000-structure requests compute (two at a time, for as long as the probe runs).
  const big = Array.from({ length: 4 }, (_, b) => json({ model: structureModel, inputs: structures.slice(b * 1000, (b + 1) * 1000).map((structure) => ({ structure })) }));
  let computing = true;
  const heavy = Promise.all([0, 1].map(async (w) => {
    const ms: number[] = [];
    for (let i = w; computing; i += 2) ms.push(...(await timeRequests(url, [big[i % big.length]])));
    return ms;
  }));
  const live = await load(`http://127.0.0.1:${api.port}/health/live`, { connections: 4, seconds: Math.max(5, seconds / 2), method: 'GET' });
  computing = false;
  const bigMs = (await heavy).flat();
  const rssAfterBatches = await rssOf(api.port);
  await new Promise((r) => setTimeout(r, 10_000));
  const rssSettled = await rssOf(api.port);

  const memo = await load(url, { connections, seconds, body: json({ model: values.model, inputs: [{ formula: 'GaAs' }] }) });
  const baseline = rows[0][1].rps;
  const fmt = (name: string, r: LoadResult) => `| ${name} | ${r.rps.toFixed(0)} | ${(r.rps / baseline).toFixed(3)}× | ${r.p50} | ${r.p99} | ${r.errors} |`;
  const mb = (b: number) => (b / 2 ** 20).toFixed(0);
  const report = [
    '| request | req/s | of the bare route | p50 ms | p99 ms | errors |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.slice(1).map(([n, r]) => fmt(n, r)),
    fmt(rows[0][0], rows[0][1]),
    '',
    `- One request of 1000 new formulas (${values.model}): p50 ${percentile(batchMs, 0.5).toFixed(0)} ms, max ${Math.max(...batchMs).toFixed(0)} ms over ${batchMs.length} requests.`,
    `- /health/live while 1000-structure requests compute (${structureModel}, two at a time, ${bigMs.length} finished, p50 ${percentile(bigMs, 0.5).toFixed(0)} ms each): ` +
      `p50 ${live.p50} ms, p99 ${live.p99} ms, ${live.rps.toFixed(0)} req/s, ${live.errors} errors.`,
    `- RSS of the API process: ${mb(rssBefore)} MiB after warm-up, ${mb(rssAfterBatches)} MiB right after the large batches, ${mb(rssSettled)} MiB 10 s later ` +
      `(${((rssSettled / rssBefore - 1) * 100).toFixed(0)} % over the warm-up figure).`,
    '',
    '**Memo (a repeated formula, answered without computing):**',
    '',
    '| request | req/s | of the bare route | p50 ms | p99 ms | errors |',
    '|---|---:|---:|---:|---:|---:|',
    fmt(`the same formula every request (${values.model}), from the memo`, memo),
  ].join('\n');
  process.stdout.write(`${report}\n`);
  if (values.write) {
    // The measured section only; the text around it in docs/performance.md is written by hand.
    writeDocSection(join(ROOT, 'docs', 'performance.md'), 'http', `\`npm run bench:http -- --write\` (${new Date().toISOString().slice(0, 10)}): autocannon, ${connections} connections, ${seconds} s per row after a warm-up; the API
(\`matmoe api\`, its inference threads, defaults otherwise) and the bare Fastify server each run in their own process;
${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}. Ratios are to the bare route measured in the
same run. New materials lead; the memo's figure is last and labelled.

${report}`, { title: '# HTTP performance\n' });
  }
} finally {
  for (const c of [api.child, bare.child]) {
    c.kill('SIGTERM');
    await once(c, 'exit');
  }
}
