/** Load generation for bench:http: servers in processes of their own, autocannon runs, and a few latency probes. */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { ROOT } from '../src/paths.js';

/** Starts a server process; with `port` it waits for /health/live there, otherwise for a "listening PORT" line. */
export function start(args: string[], env: Record<string, string>, port?: number): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    if (port !== undefined) {
      const poll = (): void => {
        fetch(`http://127.0.0.1:${port}/health/ready`).then((r) => (r.ok ? resolve({ child, port }) : setTimeout(poll, 300)), () => setTimeout(poll, 300));
      };
      poll();
    }
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited (${code}) before listening:\n${out.slice(-2000)}`)));
  });
}

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

/** POSTs for `seconds` on `connections` connections; with `bodies`, every request sends the next body (a new material). */
export async function load(url: string, opts: { connections: number; seconds: number; body?: string; bodies?: readonly string[]; method?: 'GET' | 'POST' }): Promise<LoadResult> {
  let n = 0;
  const bodies = opts.bodies;
  const r = await autocannon({
    url, method: opts.method ?? 'POST', headers: { 'content-type': 'application/json' }, body: opts.body, connections: opts.connections, duration: opts.seconds, pipelining: 1,
    ...(bodies ? { requests: [{ setupRequest: ((req: autocannon.Request) => ({ ...req, body: bodies[n++ % bodies.length] })) as autocannon.Request['setupRequest'] }] } : {}),
  });
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.non2xx + r.errors };
}

/** Latencies of sequential POSTs, ms. */
export async function timeRequests(url: string, bodies: readonly string[]): Promise<number[]> {
  const ms: number[] = [];
  for (const body of bodies) {
    const t0 = performance.now();
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    ms.push(performance.now() - t0);
  }
  return ms;
}

export function percentile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}

/** The API process's resident set, read from its own Prometheus metrics. */
export async function rssOf(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = /^matmoe_process_resident_memory_bytes (\d+(\.\d+)?(e\+\d+)?)/m.exec(text);
  if (!m) throw new Error('no resident memory metric');
  return Number(m[1]);
}
