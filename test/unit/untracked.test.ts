/**
 * The line the exiting main thread writes for a block its watchdog never saw (issue 13)
 * must be the watchdog's line: same keys, same order, same bytes as pino writes them.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { BlockEvent } from '../../src/shared/event.js';
import { LOG_MESSAGE } from '../../src/exporters/log.js';
import { formatBlockLine } from '../../src/main-thread/untracked.js';

const event: BlockEvent = {
  id: '6d6d389419f88b7c', thread: { id: 0, name: 'main' }, startedAt: '2026-11-26T02:30:32.888Z', durationMs: 152.4,
  ongoing: false, thresholdMs: 50,
  context: { kind: 'startup', method: null, route: null, path: null, job: null, traceId: null, spanId: null },
  culprit: null, stack: [], hint: null, fingerprint: '2a06b92aea15472f', profile: [], cause: 'code', cpuMs: null, gcMs: null,
};

describe('formatBlockLine', () => {
  it("is byte for byte the watchdog's pino line", () => {
    let written = '';
    const sink = new Writable({ write(chunk, _enc, done) { written += String(chunk); done(); } });
    const time = 1795660233019;
    // The watchdog's logger (exporters/log.ts), with a fixed clock.
    pino({ name: 'loopwatch', level: 'warn', timestamp: () => `,"time":${time}` }, sink).warn({ block: event }, LOG_MESSAGE);
    expect(formatBlockLine(event, time)).toBe(written);
  });
});
