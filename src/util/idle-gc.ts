/**
 * A full garbage collection once a process (or thread) goes quiet after heavy work. V8 collects the old generation
 * only under allocation pressure, never because the process is idle, so after a burst of large requests a server
 * keeps the burst's garbage resident for as long as no new work arrives (measured: +140 MB RSS on the API after
 * bench:http, back to its baseline when collected). Collecting when idle costs nothing a request waits for.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

export interface IdleCollector {
  /** Work started: no collection runs until every begun piece of work has ended and `idleMs` has passed. */
  begin(): void;
  end(): void;
  stop(): void;
}

let collect: (() => void) | undefined;

function gcFunction(): () => void {
  if (!collect) {
    // `gc` is exposed to contexts created after the flag is set; the process's own global stays unchanged.
    v8.setFlagsFromString('--expose-gc');
    collect = vm.runInNewContext('gc') as () => void;
  }
  return collect;
}

/**
 * Checks every `idleMs`; when no work is in progress, none ended within `idleMs`, and the heap grew by more than `minGrowthBytes` since
 * the last collection, collects once. The timer never keeps the process alive.
 */
export function startIdleCollector(opts: { idleMs?: number; minGrowthBytes?: number; onCollect?: (freedBytes: number) => void } = {}): IdleCollector {
  const idleMs = opts.idleMs ?? 2000;
  const minGrowth = opts.minGrowthBytes ?? 32 * 2 ** 20;
  const gc = gcFunction();
  const used = () => v8.getHeapStatistics().used_heap_size;
  let last = Date.now();
  let busy = 0;
  let floor = used();
  const timer = setInterval(() => {
    const quiet = Date.now() - last;
    // A count left up by work whose end was never reported (a dropped connection) holds collections back a minute at most.
    if (quiet < idleMs || (busy > 0 && quiet < 60_000)) return;
    if (used() - floor < minGrowth) return;
    const before = used();
    gc();
    floor = used();
    opts.onCollect?.(before - floor);
  }, idleMs);
  timer.unref();
  return {
    begin: () => {
      busy++;
      last = Date.now();
    },
    end: () => {
      busy = Math.max(0, busy - 1);
      last = Date.now();
    },
    stop: () => clearInterval(timer),
  };
}
