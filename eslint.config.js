import js from '@eslint/js';
import tseslint from 'typescript-eslint';

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
        patterns: [{ regex: '^(fs|path|os|http|https|net|url|util|events|crypto|worker_threads|async_hooks|inspector|diagnostics_channel|child_process|perf_hooks|zlib|stream|timers|assert|readline)(/.*)?$', message: 'Use the node: protocol for built-ins.' }],
      }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
);
