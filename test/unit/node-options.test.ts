import { describe, expect, it } from 'vitest';
import { workerNodeOptions } from '../../src/agent.js';
import { addPreload, hasOurPreload, quoteNodeOption, splitNodeOptions } from '../../src/node-options.js';

describe('workerNodeOptions', () => {
  it('strips our preload and keeps the rest', () => {
    expect(workerNodeOptions('--require loopwatch/register --max-old-space-size=512')).toBe('--max-old-space-size=512');
    expect(workerNodeOptions('--import loopwatch/register')).toBe('');
    expect(workerNodeOptions('-r /app/node_modules/loopwatch/dist/register.cjs -r dotenv/config')).toBe('-r dotenv/config');
    expect(workerNodeOptions('--require=loopwatch/register --enable-source-maps')).toBe('--enable-source-maps');
    expect(workerNodeOptions(undefined)).toBeUndefined();
  });

  it('strips a quoted path with spaces and keeps the app\'s quoted words quoted', () => {
    expect(workerNodeOptions('--require "/my app/node_modules/loopwatch/dist/register.cjs" --require "/my app/tracing.js"'))
      .toBe('--require "/my app/tracing.js"');
  });

  it('keeps an app preload whose path merely contains "loopwatch"', () => {
    expect(workerNodeOptions('--require /ci/loopwatch/setup.cjs')).toBe('--require /ci/loopwatch/setup.cjs');
  });
});

describe('NODE_OPTIONS words', () => {
  it('splits on spaces, groups quotes, unescapes inside them (as Node does)', () => {
    expect(splitNodeOptions('--a  --b=1 "--c d" "e\\"f\\\\g"')).toEqual(['--a', '--b=1', '--c d', 'e"f\\g']);
    expect(splitNodeOptions('')).toEqual([]);
    expect(splitNodeOptions('""')).toEqual(['']);
  });

  it('quotes a word only when it needs it, and the quoting splits back to the word', () => {
    expect(quoteNodeOption('/srv/app/dist/register.cjs')).toBe('/srv/app/dist/register.cjs');
    for (const word of ['/my app/register.cjs', 'C:\\Users\\me\\register.cjs', 'say "hi"', '']) {
      expect(splitNodeOptions(`--x ${quoteNodeOption(word)} --y`)).toEqual(['--x', word, '--y']);
    }
  });

  it('adds the preload after the user\'s options, once', () => {
    expect(addPreload(undefined, '/pkg/dist/register.cjs')).toBe('--require /pkg/dist/register.cjs');
    expect(addPreload('--max-old-space-size=256 -r dotenv/config', '/a b/register.cjs'))
      .toBe('--max-old-space-size=256 -r dotenv/config --require "/a b/register.cjs"');
    expect(addPreload('--import loopwatch/register', '/pkg/dist/register.cjs')).toBe('--import loopwatch/register');
    expect(addPreload('--require /pkg/dist/register.cjs', '/pkg/dist/register.cjs')).toBe('--require /pkg/dist/register.cjs');
    expect(hasOurPreload('--require /ci/loopwatch/setup.cjs')).toBe(false);
  });
});
