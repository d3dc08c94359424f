import { describe, expect, it } from 'vitest';
import { DEFAULTS, optionsFromEnv, parseHost, resolveOptions } from '../../src/config.js';
import { LoopwatchRangeError, LoopwatchTypeError } from '../../src/errors.js';
import { listenProblem } from '../../src/watchdog/endpoint.js';
import { expectOptionRejected } from '../helpers/options.js';

describe('Prometheus options', () => {
  it('defaults: no endpoint, 0.0.0.0, top 10', () => {
    expect(DEFAULTS).toMatchObject({ prometheusPort: null, prometheusHost: '0.0.0.0', metricsTopN: 10 });
    expect(resolveOptions({})).toMatchObject({ prometheusPort: null, prometheusHost: '0.0.0.0', metricsTopN: 10 });
  });

  it('keeps valid values', () => {
    expect(resolveOptions({ prometheusPort: 9464, prometheusHost: '[::1]', metricsTopN: 3 })).toMatchObject({ prometheusPort: 9464, prometheusHost: '::1', metricsTopN: 3 });
    expect(resolveOptions({ prometheusPort: null }).prometheusPort).toBeNull();
    for (const host of ['127.0.0.1', '::', 'localhost', 'metrics.internal.example.com', 'a-b.c']) expect(parseHost(host), host).not.toBeNull();
  });

  const bad: [string, unknown, typeof LoopwatchTypeError | typeof LoopwatchRangeError, RegExp][] = [
    ['prometheusPort', '9464', LoopwatchTypeError, /options\.prometheusPort must be a number, got "9464"/],
    ['prometheusPort', 0, LoopwatchRangeError, /options\.prometheusPort must be an integer >= 1 and <= 65535, got 0/],
    ['prometheusPort', 70000, LoopwatchRangeError, /got 70000/],
    ['prometheusPort', 94.5, LoopwatchRangeError, /got 94.5/],
    ['prometheusHost', 1, LoopwatchTypeError, /options\.prometheusHost must be a string \(an IP address or host name\), got 1/],
    ['prometheusHost', 'bad host', LoopwatchRangeError, /options\.prometheusHost must be an IP address or host name, got "bad host"/],
    ['prometheusHost', 'http://x', LoopwatchRangeError, /got "http:\/\/x"/],
    ['prometheusHost', '', LoopwatchRangeError, /got ""/],
    ['prometheusHost', '999.1.1.1', LoopwatchRangeError, /options\.prometheusHost must be an IP address or host name, got "999\.1\.1\.1" \(not an IP address: 999 is more than 255\)/],
    ['metricsTopN', 0, LoopwatchRangeError, /options\.metricsTopN must be an integer >= 1 and <= 1000, got 0/],
    ['metricsTopN', 'ten', LoopwatchTypeError, /options\.metricsTopN must be a number/],
  ];
  it.each(bad)('rejects options.%s = %o', (key, value, Cls, message) => {
    expectOptionRejected(key, value, Cls, message);
  });

  it('the endpoint says why it cannot listen, one cause per error', () => {
    const err = (code: string, address?: string): NodeJS.ErrnoException & { address?: string } => Object.assign(new Error(`listen ${code}`), { code, address });
    expect(listenProblem(err('EADDRINUSE'), '127.0.0.1', 9464)).toBe('the port is in use');
    expect(listenProblem(err('EADDRNOTAVAIL', '192.0.2.1'), '192.0.2.1', 9464)).toBe('the address is not on this machine');
    expect(listenProblem(err('EADDRNOTAVAIL', '192.0.2.7'), 'metrics.example', 9464)).toBe('the host name resolves to 192.0.2.7, which is not an address of this machine');
    expect(listenProblem(err('ENOTFOUND'), 'no-such-host.invalid', 9464)).toBe('the host name does not resolve');
    expect(listenProblem(err('EAI_AGAIN'), 'metrics.example', 9464)).toMatch(/could not be resolved now/);
    expect(listenProblem(err('EACCES'), '0.0.0.0', 80)).toBe('permission denied: ports below 1024 need privileges');
    expect(listenProblem(err('EWHATEVER'), '0.0.0.0', 9464)).toBe('listen EWHATEVER');
  });

  it('reads LOOPWATCH_PROMETHEUS_PORT / _HOST and LOOPWATCH_METRICS_TOP_N; bad values are dropped, never thrown', () => {
    expect(optionsFromEnv({ LOOPWATCH_PROMETHEUS_PORT: '9464', LOOPWATCH_PROMETHEUS_HOST: '127.0.0.1', LOOPWATCH_METRICS_TOP_N: '20' }))
      .toEqual({ prometheusPort: 9464, prometheusHost: '127.0.0.1', metricsTopN: 20 });
    expect(optionsFromEnv({ LOOPWATCH_PROMETHEUS_PORT: ' 9464 ' })).toEqual({ prometheusPort: 9464 });
    for (const env of [{ LOOPWATCH_PROMETHEUS_PORT: 'x' }, { LOOPWATCH_PROMETHEUS_PORT: '0' }, { LOOPWATCH_PROMETHEUS_PORT: '1.5' }, { LOOPWATCH_PROMETHEUS_HOST: 'no such host' }, { LOOPWATCH_PROMETHEUS_HOST: '999.1.1.1' }, { LOOPWATCH_PROMETHEUS_HOST: '' }, { LOOPWATCH_METRICS_TOP_N: '0' }]) {
      expect(optionsFromEnv(env), JSON.stringify(env)).toEqual({});
    }
  });
});
