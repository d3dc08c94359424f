/**
 * Issue 12: each block says why the loop stalled (code, native, gc, starved), with the
 * thread's on-CPU and GC time, measured in real processes on Linux; and a flood of blocks
 * writes a bounded number of lines while metrics and events still count every block.
 */
import { mkdirSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { setPriority } from 'node:os';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, type BlockLine, type Child, cleanup, spawnFixture } from '../helpers/child.js';
import { freePort, pollUntil } from '../helpers/poll.js';
import { parseExposition } from '../prometheus/parse.js';

beforeAll(assertBuilt);
afterEach(cleanup);

const linux = process.platform === 'linux';
const root = typeof process.getuid === 'function' && process.getuid() === 0;

interface Truth {
  kind: string;
  start: number;
  end: number;
}

function truths(child: Child): Truth[] {
  return child.stdoutLines.flatMap((l) => {
    try {
      const v = JSON.parse(l.text) as Partial<Truth>;
      return typeof v.kind === 'string' ? [v as Truth] : [];
    } catch {
      return [];
    }
  });
}

/** The finished block lines that overlap the fixture's own record of a block. */
function linesOf(child: Child, t: Truth): BlockLine[] {
  return child.blocks().filter((b) => {
    const s = Date.parse(b.block.startedAt);
    return !b.block.ongoing && s < t.end && s + b.block.durationMs > t.start;
  });
}

/**
 * The shared 2-core machines here run other sessions' tests too; at the default priority a
 * spin loop there was measured runnable-but-not-running for up to 0.3 of its block. The
 * tests of code, native and gc are not about starvation, so (as root) the fixture's main
 * thread gets a higher priority than that load: on Linux setpriority(pid) sets the thread
 * whose tid is the pid, i.e. the main thread, as the test wants.
 */
function prioritize(child: Child): void {
  if (!root || !child.proc.pid) return;
  try {
    setPriority(child.proc.pid, -15);
  } catch {
    // Best effort: without it the bounds below still hold on a quiet machine.
  }
}

async function runKinds(kinds: string[], env: Record<string, string> = {}, nodeArgs: string[] = []): Promise<{ child: Child; byKind: Map<string, BlockLine[]> }> {
  const child = spawnFixture('cause/blocks.cjs', { args: kinds, env: { FIXTURE_BLOCK_MS: '200', ...env }, nodeArgs });
  prioritize(child);
  await child.ready({ timeoutMs: 30_000 });
  await child.waitFor(() => truths(child).length === kinds.length && truths(child).every((t) => linesOf(child, t).length > 0), {
    timeoutMs: 20_000, what: `a block line for each of ${kinds.join(', ')}`,
  });
  const byKind = new Map<string, BlockLine[]>();
  for (const t of truths(child)) byKind.set(t.kind, [...(byKind.get(t.kind) ?? []), ...linesOf(child, t)]);
  return { child, byKind };
}

describe.runIf(linux)('issue 12: the cause of a block (Linux, real processes)', () => {
  it('a spin loop is code with cpuMs close to its duration; Atomics.wait and execSync sleep are native', async () => {
    const { child, byKind } = await runKinds(['spin', 'wait', 'exec']);
    const [spin] = byKind.get('spin')!;
    expect(spin.block.cause, child.describe()).toBe('code');
    expect(spin.block.culprit?.function).toBe('spinLoop');
    // On CPU for most of it: 0.59-0.99 of the block measured here, the rest taken by the
    // other sessions' load on these 2 cores (a quiet machine gives 0.95-1.0).
    expect(spin.block.cpuMs).toBeGreaterThan(spin.block.durationMs * 0.5);
    expect(spin.block.cpuMs).toBeLessThanOrEqual(spin.block.durationMs);
    expect(spin.block.gcMs).toBeLessThan(spin.block.durationMs * 0.2);
    for (const kind of ['wait', 'exec']) {
      const [line] = byKind.get(kind)!;
      expect(line.block.cause, `${kind}\n${child.describe()}`).toBe('native');
      expect(line.block.cpuMs).toBeLessThan(line.block.durationMs * 0.3);
      // A native block keeps its culprit: the call is what to fix (which frame is named
      // after a long native call is the culprit rule's business, README "How the culprit is chosen").
      expect(line.block.culprit).not.toBeNull();
    }
  }, 60_000);

  it('an app worker thread is measured through its own tid: its spin loop is code, on CPU, while the main thread idles', async () => {
    // Read from the main thread's schedstat instead, this block would be native (cpuMs ~0).
    const child = spawnFixture('../attribution/fixtures/worker-threads.cjs', { args: ['300'], env: { LOOPWATCH_WORKER_THREADS: 'on' } });
    await child.ready();
    const [line] = await child.waitForBlocks(1, { timeoutMs: 10_000 });
    const b = line.block;
    expect(b.thread.name, JSON.stringify(b)).toBe('report-pool');
    expect(b.cpuMs, JSON.stringify(b)).not.toBeNull();
    // The worker is not given a higher priority (its tid is not known from outside), so on a
    // loaded machine it may be starved; it is never native, which the idle main thread would give.
    expect(['code', 'starved'], JSON.stringify(b)).toContain(b.cause);
    if (b.cause === 'code') expect(b.cpuMs!).toBeGreaterThan(b.durationMs * 0.4);
    await child.waitForExit(10_000);
  }, 30_000);

  it('allocation over a large live heap, with GC pauses most of the block, is gc', async () => {
    // V8's parallel and concurrent GC helpers compete with the main thread for the 2 cores
    // here (measured: a big-heap allocation loop was then runnable-not-running for up to 0.9
    // of its block, between pauses too, and came out starved or code as often as gc):
    // --single-threaded-gc keeps the collection on the thread being measured.
    const { child, byKind } = await runKinds(['gc', 'gc', 'gc'], { FIXTURE_HEAP: '1' }, ['--single-threaded-gc']);
    const lines = byKind.get('gc')!.map((l) => l.block);
    expect(lines.length).toBeGreaterThanOrEqual(3);
    // GC is observed from the stall's first capture on: a pause already under way then and
    // lasting to the block's end is not seen (Node 24 makes a few scavenges of 30-190 ms
    // here, and one of three such blocks was measured with gcMs 0). So: at least one of the
    // three is gc, and every block whose measured GC time dominates is named gc.
    const gc = lines.filter((b) => b.cause === 'gc');
    // On Node 20 all three were gc in every run measured; on Node 24 0-2 of 3 (its
    // scavenges here are few and long, and one under way at the first capture is missed:
    // README, "How the cause is told"), so there only the rules below are checked.
    if (process.versions.node.startsWith('20.')) expect(gc.length, child.describe()).toBeGreaterThanOrEqual(1);
    for (const b of lines) {
      if (b.gcMs === null) continue;
      expect(b.gcMs).toBeLessThanOrEqual(b.durationMs);
      if (b.gcMs >= b.durationMs * 0.55) expect(b.cause).toBe('gc');
    }
    for (const b of gc) {
      expect(b.gcMs).toBeGreaterThanOrEqual(b.durationMs * 0.5);
      // Which of them is named is the culprit rule's business; a gc block keeps one. On Node
      // 24 a sample held up by a long pause can be served only once fillCache has returned
      // into its dispatcher, run(kind) (the README's handlers[kind](body) case; seen once in
      // two full runs): that frame is the fixture's too.
      expect(['fillCache', 'addEntry', 'run']).toContain(b.culprit?.function);
      expect(b.hint).toMatch(/garbage collection took \d+ % of this block/);
    }
  }, 60_000);
});

// The machine's cgroup v1 cpu controller gives a real CFS quota to one thread: the fixture's
// main thread alone is moved into it (the `tasks` file takes thread ids), the watchdog stays
// out, as a CPU-limited app thread next to a monitor that still runs.
const CPU_CGROUP = '/sys/fs/cgroup/cpu';
const canThrottle = linux && root && existsSync(`${CPU_CGROUP}/cpu.cfs_quota_us`) && existsSync(`${CPU_CGROUP}/tasks`);

describe.runIf(linux)('issue 12: a starved thread', () => {
  // Skipped where the machine has no cgroup v1 cpu controller or the test is not root: a real
  // quota cannot be set then, and a simulated one would test nothing.
  it.skipIf(!canThrottle)('under a 10 % CFS quota a spin loop is starved: cpuMs well below the duration, no culprit, a CPU-limit hint', async () => {
    const group = `${CPU_CGROUP}/loopwatch-test-${process.pid}-${Date.now()}`;
    let child: Child | undefined;
    mkdirSync(group);
    try {
      writeFileSync(`${group}/cpu.cfs_period_us`, '100000');
      writeFileSync(`${group}/cpu.cfs_quota_us`, '10000');
      child = spawnFixture('cause/blocks.cjs', { env: { FIXTURE_BLOCK_MS: '300' } });
      await child.ready({ timeoutMs: 30_000 });
      writeFileSync(`${group}/tasks`, String(child.proc.pid));
      child.proc.kill('SIGUSR2');
      await child.waitFor(() => truths(child!).length === 1 && linesOf(child!, truths(child!)[0]).length > 0, {
        timeoutMs: 20_000, what: 'the line of the block run under the quota',
      });
      const [line] = linesOf(child, truths(child)[0]);
      const b = line.block;
      expect(b.cause, child.describe()).toBe('starved');
      expect(b.cpuMs).not.toBeNull();
      expect(b.cpuMs!).toBeLessThan(b.durationMs * 0.4);
      expect(b.culprit).toBeNull();
      expect(b.stack.some((f) => f.function === 'spinLoop')).toBe(true);
      expect(b.hint).toMatch(/runnable but not running .*CPU limit/);
    } finally {
      // Out of the group before it can be removed; then the group itself.
      if (child?.proc.pid && child.running) {
        try {
          writeFileSync(`${CPU_CGROUP}/tasks`, String(child.proc.pid));
        } catch {
          // Gone already.
        }
      }
      await child?.kill();
      await pollUntil(async () => {
        rmdirSync(group);
        return true;
      }, { timeoutMs: 5000, what: `removal of ${group}`, intervalMs: 50 });
    }
  }, 60_000);
});

describe('issue 12: flood control', () => {
  it('60 ms blocks every 70 ms: at most the cap plus summaries in the log, every block in events and metrics', async () => {
    const port = await freePort();
    const child = spawnFixture('cause/flood.cjs', {
      env: {
        FIXTURE_FLOOD_MS: '4000', LOOPWATCH_LOG_LIMIT: '3', LOOPWATCH_LOG_INTERVAL_MS: '1000',
        LOOPWATCH_PROMETHEUS_PORT: String(port), LOOPWATCH_PROMETHEUS_HOST: '127.0.0.1',
      },
    });
    prioritize(child);
    await child.ready({ timeoutMs: 30_000 });
    const count = async (): Promise<number> => {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      const fam = parseExposition(await res.text()).get('loopwatch_block_duration_seconds');
      return (fam?.samples ?? []).filter((s) => s.name.endsWith('_count')).reduce((n, s) => n + s.value, 0);
    };
    const before = await pollUntil(async () => count().then((n) => ({ n })), { timeoutMs: 5000, what: 'a first scrape' });
    child.proc.kill('SIGUSR2');
    const done = await child.waitFor(() => {
      for (const l of child.stdoutLines) if (l.text.startsWith('{"done"')) return JSON.parse(l.text) as { blocks: [number, number][]; events: number };
      return undefined;
    }, { timeoutMs: 20_000, what: 'the end of the flood' });
    const truth = done.blocks.length;
    expect(truth).toBeGreaterThan(30);
    // Every block reached the 'block' listeners and the metrics.
    expect(done.events).toBe(truth);
    const after = await pollUntil(async () => {
      const n = await count();
      return n - before.n >= truth ? n : undefined;
    }, { timeoutMs: 5000, what: `${truth} more blocks counted in loopwatch_block_duration_seconds_count` });
    expect(after - before.n).toBeLessThanOrEqual(truth + 1);

    // Lines: each fingerprint (the flood's culprit; blocks seen without a stack or starved
    // ones have culprit null and one of their own) gets at most 3 lines per 1 s interval,
    // and the summaries account for every other block.
    const flood = (): BlockLine[] => child.blocks().filter((b) => !b.block.ongoing
      && done.blocks.some(([s, e]) => Date.parse(b.block.startedAt) < e && Date.parse(b.block.startedAt) + b.block.durationMs > s));
    type Summary = { fingerprint: string; count: number; totalMs: number; worstMs: number };
    const summaries = (): Summary[] => child.stderrLines.flatMap((l) => {
      try {
        const v = JSON.parse(l.text) as { msg?: string; suppressed?: Summary };
        return v.msg === 'event loop blocks suppressed' && v.suppressed ? [v.suppressed] : [];
      } catch {
        return [];
      }
    });
    await child.waitFor(() => flood().length + summaries().reduce((n, s) => n + s.count, 0) >= truth, {
      timeoutMs: 5000, what: 'summaries that account for every suppressed block',
    });
    const lines = flood();
    const intervals = Math.ceil(4000 / 1000) + 1;
    const byFingerprint = new Map<string, number>();
    for (const l of lines) byFingerprint.set(l.block.fingerprint, (byFingerprint.get(l.block.fingerprint) ?? 0) + 1);
    expect(byFingerprint.size).toBeLessThanOrEqual(3);
    for (const n of byFingerprint.values()) expect(n).toBeLessThanOrEqual(3 * intervals);
    expect(lines.length).toBeLessThan(truth / 2);
    const sums = summaries();
    expect(sums.length).toBeLessThanOrEqual(intervals * byFingerprint.size);
    expect(lines.length + sums.reduce((n, s) => n + s.count, 0)).toBe(truth);
    for (const s of sums) {
      expect(s.worstMs).toBeGreaterThanOrEqual(50);
      expect(s.totalMs).toBeGreaterThanOrEqual(s.count * 50);
    }
  }, 60_000);
});
