import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Child-process tests measure blocks; running two files at once on a 2-core machine
    // would make each other's loops lag.
    fileParallelism: false,
  },
});
