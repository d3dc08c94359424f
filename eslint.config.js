import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const NODE_PROTOCOL = { regex: '^(fs|path|os|http|https|net|url|util|events|crypto|worker_threads|async_hooks|inspector|diagnostics_channel|child_process|perf_hooks|zlib|stream|timers|assert|readline)(/.*)?$', message: 'Use the node: protocol for built-ins.' };

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '**/*.tgz', '.bench-out/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly',
        setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', performance: 'readonly',
        globalThis: 'readonly', URL: 'readonly', Buffer: 'readonly', __dirname: 'readonly', require: 'readonly',
        SharedArrayBuffer: 'readonly', Atomics: 'readonly',
      },
    },
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [NODE_PROTOCOL],
      }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  {
    // The watchdog worker and the modules both threads share never load the app thread's code
    // (test/unit/layout.test.ts checks the whole import graph).
    files: ['src/watchdog/**/*.ts', 'src/shared/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [NODE_PROTOCOL, { regex: '(^|/)main-thread/', message: 'The worker side does not import main-thread code: move what both use to src/shared/.' }],
      }],
    },
  },
);
