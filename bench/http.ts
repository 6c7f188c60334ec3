/**
 * bench:http — req/s and latency of POST /v1/predict with one formula, against a bare Fastify route returning a
 * constant JSON, measured in the same run with the same load (autocannon, 32 connections by default).
 *
 *   npm run bench:http -- [--model expt_bandgap] [--formula GaAs] [--seconds 10] [--connections 32] [--write]
 *
 * The MatMoE API runs as its own process (`src/server.ts`, database and Redis from the environment as usual), so
 * this process only generates load. `--write` also writes docs/performance.md.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../src/paths.js';
import { readTaskRows } from '../scripts/lib/tasks.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    model: { type: 'string', default: 'expt_bandgap' },
    formula: { type: 'string', default: 'GaAs' },
    seconds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '32' },
    write: { type: 'boolean', default: false },
    distinct: { type: 'boolean', default: false },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);

/** Starts a server process; with `port` it waits for /health/live there, otherwise for a "listening PORT" line. */
function start(script: string, env: Record<string, string>, port?: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    if (port !== undefined) {
      const poll = (): void => {
        fetch(`http://127.0.0.1:${port}/health/live`).then((r) => (r.ok ? resolve({ child, port }) : setTimeout(poll, 200)), () => setTimeout(poll, 200));
      };
      poll();
    }
    child.on('exit', (code) => reject(new Error(`${script} exited (${code}) before listening:\n${out.slice(-2000)}`)));
  });
}

async function load(url: string, body: string, bodies?: string[]): Promise<autocannon.Result> {
  let n = 0;
  return autocannon({
    url, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, duration: seconds, pipelining: 1,
    // --distinct: every request asks for another material (never answered from the prediction memo).
    ...(bodies ? { requests: [{ setupRequest: ((req: autocannon.Request) => ({ ...req, body: bodies[n++ % bodies.length] })) as autocannon.Request['setupRequest'] }] } : {}),
  });
}

const port = 18000 + Math.floor(Math.random() * 1000);
const api = await start('src/server.ts', { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', QUEUE_PREFIX: process.env.QUEUE_PREFIX ?? 'matmoe-bench' }, port);
const bare = await start('bench/bare-server.ts', {});
try {
  const body = JSON.stringify({ model: values.model, inputs: [{ formula: values.formula }] });
  const probe = await fetch(`http://127.0.0.1:${api.port}/v1/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (!probe.ok) throw new Error(`POST /v1/predict answered ${probe.status}: ${await probe.text()} (is the model "${values.model}" there? run npm run zoo:tasks or pass --model)`);
  const answer = (await probe.json()) as { predictions: { value: number; unit: string }[] };
  // Warm both servers (JIT, model cache) before measuring.
  await autocannon({ url: `http://127.0.0.1:${api.port}/v1/predict`, method: 'POST', headers: { 'content-type': 'application/json' }, body, connections, duration: 2 });
  const matmoe = await load(`http://127.0.0.1:${api.port}/v1/predict`, body);
  // The memo keys on the reduced formula: the 2481 experimental-gap formulas (about 2000 distinct) mostly miss it at first.
  const distinct = values.distinct
    ? await load(`http://127.0.0.1:${api.port}/v1/predict`, body, readTaskRows('expt_bandgap').map((r) => JSON.stringify({ model: values.model, inputs: [{ formula: r.formula }] })))
    : undefined;
  const baseline = await load(`http://127.0.0.1:${bare.port}/v1/predict`, body);
  const row = (name: string, r: autocannon.Result) =>
    `| ${name} | ${r.requests.average.toFixed(0)} | ${r.latency.p50} | ${r.latency.p99} | ${r.non2xx + r.errors} |`;
  const ratio = matmoe.requests.average / baseline.requests.average;
  const table = [
    `| server | req/s | p50 ms | p99 ms | errors |`,
    `|---|---:|---:|---:|---:|`,
    row(`MatMoE POST /v1/predict (${values.model}, ${values.formula})`, matmoe),
    ...(distinct ? [row(`MatMoE POST /v1/predict, a different formula each request (${values.model})`, distinct)] : []),
    row('bare Fastify, constant JSON', baseline),
  ].join('\n');
  const summary = `ratio ${ratio.toFixed(2)}x of the bare route; p99 ${matmoe.latency.p99} ms (goal: ≥ 0.5x and p99 < 10 ms)`;
  process.stdout.write(`answer: ${values.formula} → ${answer.predictions[0].value.toFixed(3)} ${answer.predictions[0].unit}\n${table}\n${summary}\n`);
  if (values.write) {
    writeFileSync(join(ROOT, 'docs', 'performance.md'), `# HTTP performance

\`npm run bench:http -- --write\` (autocannon, ${connections} connections, ${seconds} s each, after a 2 s warm-up; the API and the
bare server each run in their own process; ${cpus().length} cores: ${cpus()[0]?.model ?? 'unknown CPU'}; Node ${process.version}).

${table}

${summary}.

The API answers from a model cached in memory after the first request; per request it checks the model's checksum in
Postgres (one indexed query) so that a retrained model is picked up and parses the formula. A material already asked
for is answered from a memo keyed by (model checksum, reduced formula); a new one costs the descriptors and, for
each of the 5 ensemble members, its selected experts and head (\`--distinct\` measures that path: each request asks for
another of the experimental band-gap formulas).
`);
  }
} finally {
  for (const c of [api.child, bare.child]) {
    c.kill('SIGTERM');
    await once(c, 'exit');
  }
}
