// The loopwatch demo and smoke test, as `npm run demo` runs it (after a build):
// `loopwatch demo` from this checkout's dist/ (the code is src/cli/demo.ts). Options
// --strict and --raw are passed on.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));
if (!existsSync(cli)) {
  console.error(`demo: ${cli} is missing; build first (npm run build), or use npm run demo`);
  process.exit(1);
}
const r = spawnSync(process.execPath, [cli, 'demo', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
