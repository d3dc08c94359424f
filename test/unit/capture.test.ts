import type { Session } from 'node:inspector';
import { describe, expect, it } from 'vitest';
import { Capturer } from '../../src/watchdog/capture.js';

describe('Capturer without an inspector', () => {
  it('reports once, then declines captures', () => {
    const reasons: string[] = [];
    let attempts = 0;
    const capturer = new Capturer((r) => reasons.push(r), () => {
      attempts++;
      throw new Error('Inspector is not available');
    });
    const results: unknown[] = [];
    expect(capturer.capture((r) => results.push(r))).toBe(false);
    expect(capturer.capture((r) => results.push(r))).toBe(false);
    expect(capturer.available).toBe(false);
    expect(reasons).toEqual(['Inspector is not available']);
    expect(attempts).toBe(1);
    expect(results).toEqual([]);
  });

  it('hands back null when the evaluation fails, and allows the next capture', () => {
    const fake = {
      post: (_m: string, _p: unknown, cb: (err: Error | null, res?: unknown) => void) => cb(new Error('boom')),
      disconnect: () => undefined,
    } as unknown as Session;
    const capturer = new Capturer(() => undefined, () => fake);
    const results: unknown[] = [];
    expect(capturer.capture((r) => results.push(r))).toBe(true);
    expect(results).toEqual([null]);
    expect(capturer.inFlight).toBe(false);
    expect(capturer.available).toBe(true);
  });
});
