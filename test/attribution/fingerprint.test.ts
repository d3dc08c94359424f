import { describe, expect, it } from 'vitest';
import { fileKey, fingerprint } from '../../src/attribution/fingerprint.js';

describe('fileKey', () => {
  it('is the same for a source and its build output', () => {
    for (const f of ['src/routes/users.ts', 'dist/routes/users.js', 'build/routes/users.mjs', 'lib/routes/users.cjs', 'out/src/routes/users.js', 'routes/users.tsx', 'src\\routes\\users.ts']) {
      expect(fileKey(f), f).toBe('routes/users');
    }
    expect(fileKey('dist/report.js')).toBe('report');
    expect(fileKey('src/report.ts')).toBe('report');
    // Folders that are part of the app's own layout stay.
    expect(fileKey('src/billing/report.ts')).not.toBe(fileKey('src/shipping/report.ts'));
  });

  it('keeps a dependency by package and path inside it, whatever the layout of node_modules', () => {
    expect(fileKey('node_modules/bcryptjs/umd/index.js')).toBe('bcryptjs/umd/index');
    expect(fileKey('node_modules/.pnpm/bcryptjs@3.0.3/node_modules/bcryptjs/umd/index.js')).toBe('bcryptjs/umd/index');
    expect(fileKey('../../node_modules/@scope/pkg/dist/a.js')).toBe('@scope/pkg/a');
  });

  it('leaves Node internals and URLs as they are', () => {
    expect(fileKey('node:internal/crypto/pbkdf2')).toBe('node:internal/crypto/pbkdf2');
  });
});

describe('fingerprint', () => {
  const culprit = { function: 'parseReport', file: 'src/report.ts' };

  it('is 16 hex digits, pinned: the same input gives the same value in every release, on every host and Node version', () => {
    // Pinned literals: a change here regroups every user's existing blocks.
    expect(fingerprint(culprit, '/reports/:id')).toBe('0e867e20ab6fc5bc');
    expect(fingerprint(null, null)).toBe('96a296d224f285c6');
  });

  it('does not change with source maps, lines, or where the app is installed', () => {
    const f = fingerprint(culprit, '/reports/:id');
    expect(fingerprint({ function: 'parseReport', file: 'dist/report.js' }, '/reports/:id')).toBe(f);
    expect(fingerprint({ function: 'parseReport', file: 'build/report.mjs' }, '/reports/:id')).toBe(f);
    // Extra fields (line, column) are ignored.
    expect(fingerprint({ ...culprit, line: 99, column: 7 } as typeof culprit, '/reports/:id')).toBe(f);
  });

  it('changes with the culprit function, its file, and the route', () => {
    const f = fingerprint(culprit, '/reports/:id');
    expect(fingerprint({ ...culprit, function: 'renderReport' }, '/reports/:id')).not.toBe(f);
    expect(fingerprint({ ...culprit, file: 'src/other.ts' }, '/reports/:id')).not.toBe(f);
    expect(fingerprint(culprit, '/orders')).not.toBe(f);
    expect(fingerprint(culprit, null)).not.toBe(f);
  });
});
