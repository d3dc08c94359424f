import { createRequire } from 'node:module';

/** node:crypto, loaded at the first fingerprint: a watchdog that never sees a block never loads it. */
let crypto: typeof import('node:crypto') | undefined;
function hashHex(text: string): string {
  crypto ??= createRequire(__filename)('node:crypto') as typeof import('node:crypto');
  return crypto.createHash('sha256').update(text).digest('hex');
}

/** Folders that hold a project's sources or its build output: where a file sits under them does not change with the build. */
const ROOT_DIRS = new Set(['src', 'source', 'lib', 'dist', 'build', 'out', 'output', 'app', 'compiled', 'esm', 'cjs', '.']);

const SCRIPT_EXT = /\.(?:[cm]?[jt]sx?)$/;

/**
 * The part of a culprit's file that is the same for its `.ts` source and its compiled `.js`,
 * on every host: path separators as `/`, no extension, the leading source or build folders
 * (`src/`, `dist/`, `build/`, `lib/`, `out/`…) dropped, and for a dependency only the path
 * inside its package (`node_modules/.pnpm/x@1.2.3/node_modules/x/lib/a.js` → `x/a`), so an
 * upgrade of the package manager's layout does not change it either.
 *
 *   dist/routes/users.js, src/routes/users.ts, build/routes/users.mjs → routes/users
 */
export function fileKey(file: string): string {
  let path = file.replace(/\\/g, '/');
  const nm = path.lastIndexOf('node_modules/');
  if (nm !== -1) path = path.slice(nm + 'node_modules/'.length);
  path = path.replace(SCRIPT_EXT, '');
  const parts = path.split('/').filter((p) => p !== '');
  if (nm === -1) {
    while (parts.length > 1 && (ROOT_DIRS.has(parts[0]) || parts[0] === '..')) parts.shift();
  } else {
    // Package name (with its scope), then the path inside it without the build folders.
    const name = parts[0]?.startsWith('@') ? parts.splice(0, 2) : parts.splice(0, 1);
    while (parts.length > 1 && ROOT_DIRS.has(parts[0])) parts.shift();
    parts.unshift(...name);
  }
  return parts.join('/');
}

/**
 * Groups blocks with the same cause: the culprit's function and file key (see fileKey) plus
 * the route (or job, or kind). Lines, columns, absolute paths, hosts, Node versions and
 * whether source maps were found are left out on purpose, so the fingerprint survives
 * restarts, deploys to other hosts, edits elsewhere in the file, a Node upgrade and
 * `dist/foo.js` turning into `src/foo.ts`.
 */
export function fingerprint(culprit: { function: string; file: string } | null, where: string | null): string {
  const parts = [culprit?.function ?? '', culprit ? fileKey(culprit.file) : '', where ?? ''];
  return hashHex(parts.join('\u0000')).slice(0, 16);
}
