// Packs the package and checks the tarball the way a user's install sees it:
// publint (package.json fields and files) and attw (types for import and require).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'loopwatch-pack-'));
try {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { encoding: 'utf8' });
  const tarball = join(dir, JSON.parse(out)[0].filename);
  console.log(`packed ${tarball}`);
  execFileSync('npx', ['publint', '--strict', tarball], { stdio: 'inherit' });
  // node10 resolution cannot see subpath exports ("loopwatch/register"); that is expected.
  execFileSync('npx', ['attw', '--pack', '.', '--profile', 'node16'], { stdio: 'inherit' });
  console.log('package check passed');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
