/**
 * Issue 13: a script that blocks 150 ms, 20 ms after start, and then exits was reported
 * when run alone, but 0 of 18 copies started at once on 2 cores were: their watchdog
 * thread had not started when they blocked, nor when they exited, and the main thread's
 * own record of the block went nowhere. Now every copy reports its block exactly once,
 * from the watchdog when it runs in time (with a stack if it saw the block), else from the
 * main thread's record at exit (duration, kind "startup").
 */
import { cpus } from 'node:os';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, type Child, cleanup, spawnFixture } from '../helpers/child.js';

beforeAll(assertBuilt);
afterEach(cleanup);

const COPIES = 18;
const BLOCK_MS = 150;

/** The fixture's own account of its block (its stdout line), and the block lines that overlap it. */
function outcome(child: Child): { truth: { from: number; to: number } | null; lines: ReturnType<Child['allBlocks']> } {
  const printed = child.stdoutLines.find((l) => l.text.startsWith('{"from":'));
  if (!printed) return { truth: null, lines: [] };
  const truth = JSON.parse(printed.text) as { from: number; to: number };
  // A line is this block's if its span covers most of the fixture's (the two clocks differ by
  // a few ms). The copies' own start-up, slowed down by the others, is a block too (kind
  // "startup", before the timer) and touches it at most at one end: not this one.
  const lines = child.allBlocks().filter((b) => {
    const from = Date.parse(b.block.startedAt);
    const overlap = Math.min(truth.to, from + b.block.durationMs) - Math.max(truth.from, from);
    return overlap >= (truth.to - truth.from) / 2;
  });
  return { truth, lines };
}

describe(`${COPIES} copies started at once on ${cpus().length} cores, each blocking ${BLOCK_MS} ms at start-up`, () => {
  it(`all ${COPIES} blocks are reported, each once, with their duration`, async () => {
    const children = Array.from({ length: COPIES }, () => spawnFixture('startup-contention.cjs', { args: [String(BLOCK_MS), '20'] }));
    const exits = await Promise.all(children.map((c) => c.exited));
    for (const [i, c] of children.entries()) expect(exits[i], c.describe()).toEqual({ code: 0, signal: null });

    const results = children.map(outcome);
    const reported = results.filter((r) => r.lines.length > 0).length;
    const summary = results.map((r, i) => `copy ${i}: ${r.lines.map((l) => `${l.block.durationMs} ms ${l.block.context.kind}${l.block.culprit ? ` ${l.block.culprit.function}` : ''}`).join(', ') || 'none'}`).join('\n');
    expect(reported, summary).toBe(COPIES);
    for (const [i, r] of results.entries()) {
      expect(r.truth, children[i].describe()).not.toBeNull();
      expect(r.lines, `${summary}\n${children[i].describe()}`).toHaveLength(1);
      const { block } = r.lines[0];
      // The busy time between two beats: at least the block, and on a machine this busy the
      // copy can also lose the CPU inside it, which counts (no idle time passes then).
      expect(block.durationMs, summary).toBeGreaterThanOrEqual(BLOCK_MS - 5);
      expect(block.durationMs, summary).toBeLessThan(BLOCK_MS + 1000);
      expect(block.ongoing).toBe(false);
      // A watchdog that saw the block has its stack (blockAtStart, or the timer callback that
      // called it when the probe was served only as it returned: the CPU is this contended).
      // Without a culprit: "startup" when the watchdog was not running yet, null when it ran
      // but was not scheduled in time, "timer" when it sampled the timer callback but blamed
      // no frame (seen once on Node 20 in 18 copies: a starved thread, which ran little of
      // the block, is not blamed; nor is a sample served at a callback's entry).
      const seen = `${summary}\n${JSON.stringify(block)}`;
      if (block.culprit) expect(block.culprit.file, seen).toBe('test/fixtures/startup-contention.cjs');
      else expect(['startup', null, 'timer'], seen).toContain(block.context.kind);
    }
  }, 60_000);
});
