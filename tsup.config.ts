import { defineConfig } from 'tsup';

export default defineConfig({
  entry: {
    index: 'src/index.ts',
    register: 'src/register.ts',
    otel: 'src/otel.ts',
    prometheus: 'src/prometheus.ts',
    'watchdog/worker': 'src/watchdog/worker.ts',
    koa: 'integrations/koa.ts',
    // The `loopwatch` bin (package.json "bin" points at the CommonJS build).
    cli: 'src/cli/main.ts',
  },
  format: ['esm', 'cjs'],
  dts: { entry: { index: 'src/index.ts', register: 'src/register.ts', koa: 'integrations/koa.ts', otel: 'src/otel.ts', prometheus: 'src/prometheus.ts' } },
  target: 'node20',
  platform: 'node',
  // Both builds locate the worker file next to themselves; shims give ESM a __dirname.
  shims: true,
  splitting: false,
  sourcemap: true,
  clean: true,
});
