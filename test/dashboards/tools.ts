/**
 * Finding promtool and prometheus (Debian's `prometheus` package carries both). Off CI a
 * missing binary skips the tests that need it, with the reason printed; in CI (CI=true) a
 * missing binary fails them, so a broken install step cannot pass as green.
 */
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export function which(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  return null;
}

export function inCI(): boolean {
  const v = (process.env.CI ?? '').toLowerCase();
  return v !== '' && v !== 'false' && v !== '0';
}

export interface Tool {
  /** Absolute path, or null when not on PATH. */
  path: string | null;
  /** True when the tests that need it must be skipped (absent, and not in CI). */
  skip: boolean;
  /** Returns the path or throws the reason (absent in CI). */
  require(): string;
}

export function tool(name: string): Tool {
  const path = which(name);
  const skip = path === null && !inCI();
  if (skip) {
    console.warn(`[dashboards] skipping the tests that need ${name}: not on PATH (install Debian's prometheus package: apt-get install -y prometheus). With CI=true they fail instead.`);
  }
  return {
    path,
    skip,
    require(): string {
      if (path === null) throw new Error(`${name} is not on PATH, and CI is set: .ci/run must install it (apt-get install -y prometheus)`);
      return path;
    },
  };
}
