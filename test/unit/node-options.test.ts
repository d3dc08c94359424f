import { describe, expect, it } from 'vitest';
import { workerNodeOptions } from '../../src/agent.js';

describe('workerNodeOptions', () => {
  it('strips our preload and keeps the rest', () => {
    expect(workerNodeOptions('--require loopwatch/register --max-old-space-size=512')).toBe('--max-old-space-size=512');
    expect(workerNodeOptions('--import loopwatch/register')).toBe('');
    expect(workerNodeOptions('-r /app/node_modules/loopwatch/dist/register.cjs -r dotenv/config')).toBe('-r dotenv/config');
    expect(workerNodeOptions('--require=loopwatch/register --enable-source-maps')).toBe('--enable-source-maps');
    expect(workerNodeOptions(undefined)).toBeUndefined();
  });
});
