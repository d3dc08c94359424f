// The package as `npm publish` makes it, checked the way a user's install sees it.
//
// 1. A clean copy of the work tree (the files git would commit: no dist/, no earlier
//    build) is packed with `npm pack`, whose `prepack` script must build the code. Nothing is
//    built here first, so a package without its code cannot pass.
// 2. The tarball must hold every file that package.json's exports, bin and the worker name.
// 3. publint (package.json fields and files) and attw (types for import and require).
// 4. The tarball is installed into a scratch project, where `--require loopwatch/register`
//    and `--import loopwatch/register` must each report a block, and the `loopwatch` bin
//    must answer `--help`, `report` on the lines they wrote, and `demo`.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = mkdtempSync(join(tmpdir(), 'loopwatch-pack-'));
const quiet = { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' };

function fail(message) {
  console.error(`package check FAILED: ${message}`);
  process.exitCode = 1;
  throw new Error(message);
}

/** Every file git would commit now (tracked or new, not ignored), copied as it is in the work tree. */
function cleanCopy(dest) {
  const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f && existsSync(join(root, f)));
  for (const f of files) {
    mkdirSync(dirname(join(dest, f)), { recursive: true });
    cpSync(join(root, f), join(dest, f));
  }
  if (existsSync(join(dest, 'dist'))) fail('dist/ is committed: the clean copy must not hold a build');
  // The build tools come from this checkout's install; the copy holds no build output.
  symlinkSync(join(root, 'node_modules'), join(dest, 'node_modules'), 'dir');
  return files.length;
}

/** The files the tarball must contain, from package.json's exports, bin and the worker. */
function requiredFiles(pkg) {
  const out = new Set(['package.json', 'dist/watchdog/worker.cjs']);
  const walk = (v) => {
    if (typeof v === 'string') out.add(v.replace(/^\.\//, ''));
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(pkg.exports);
  walk(pkg.bin);
  walk(pkg.main);
  walk(pkg.types);
  return [...out];
}

function run(cmd, args, opts) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...opts });
  if (r.error) fail(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return r;
}

try {
  const src = join(work, 'src');
  const copied = cleanCopy(src);
  console.log(`clean copy: ${copied} files, no dist/`);

  // prepack's own output (the build) comes first on stdout; npm's JSON report is last.
  const packOut = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { ...quiet, cwd: src });
  const packed = JSON.parse(packOut.slice(packOut.lastIndexOf('\n[\n') + 1));
  const tarball = join(work, packed[0].filename);
  const inTarball = new Set(packed[0].files.map((f) => f.path));
  const pkg = JSON.parse(readFileSync(join(src, 'package.json'), 'utf8'));
  const missing = requiredFiles(pkg).filter((f) => !inTarball.has(f));
  if (missing.length) fail(`the tarball lacks ${missing.join(', ')} (is "prepack" building?)`);
  console.log(`packed ${packed[0].filename}: ${inTarball.size} files, ${(packed[0].size / 1024).toFixed(0)} KB, dist/ built by prepack`);

  execFileSync('npx', ['publint', '--strict', tarball], { stdio: 'inherit', cwd: root });
  // node10 resolution cannot see subpath exports ("loopwatch/register"); that is expected.
  execFileSync('npx', ['attw', tarball, '--profile', 'node16'], { stdio: 'inherit', cwd: root });

  // A scratch project that installs the tarball as a user would.
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'scratch-app', version: '1.0.0', private: true }));
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { ...quiet, cwd: app });
  // A 120 ms busy block in a timer, after start-up; the process then exits by itself.
  writeFileSync(
    join(app, 'block.js'),
    'setTimeout(function spinForAWhile() { const end = Date.now() + 120; while (Date.now() < end); }, 50);\n',
  );
  const env = { ...process.env, LOOPWATCH_LOG: 'stderr' };
  delete env.NODE_OPTIONS;
  const log = join(work, 'blocks.jsonl');
  for (const loader of ['--require', '--import']) {
    const r = run(process.execPath, [loader, 'loopwatch/register', 'block.js'], { cwd: app, env });
    const lines = r.stderr.split('\n').filter((l) => l.includes('"event loop blocked"'));
    if (r.status !== 0 || lines.length === 0) {
      fail(`node ${loader} loopwatch/register block.js: exit ${r.status}, ${lines.length} block lines\n${r.stderr}`);
    }
    const block = JSON.parse(lines[0]).block;
    if (block.culprit?.function !== 'spinForAWhile') fail(`${loader}: culprit ${JSON.stringify(block.culprit)}, expected spinForAWhile`);
    writeFileSync(log, lines.join('\n') + '\n', { flag: 'a' });
    console.log(`installed package, ${loader}: block of ${block.durationMs} ms in ${block.culprit.function} (${block.culprit.file}:${block.culprit.line})`);
  }

  if (pkg.bin) {
    const bin = join(app, 'node_modules', '.bin', 'loopwatch');
    const help = run(bin, ['--help'], { cwd: app, env });
    if (help.status !== 0 || !/loopwatch run/.test(help.stdout)) fail(`loopwatch --help: exit ${help.status}\n${help.stdout}${help.stderr}`);
    const report = run(bin, ['report', '--json', log], { cwd: app, env });
    const parsed = report.status === 0 ? JSON.parse(report.stdout) : null;
    if (!parsed || parsed.blocks !== 2) fail(`loopwatch report --json: exit ${report.status}\n${report.stdout}${report.stderr}`);
    console.log('installed package: the loopwatch bin answers --help and reports the 2 blocks');
    // The demo runs from the package alone (examples/service.cjs is shipped).
    const demo = run(bin, ['demo'], { cwd: app, env, timeout: 40_000 });
    if (demo.status !== 0 || !/demo OK/.test(demo.stdout)) fail(`loopwatch demo: exit ${demo.status}\n${demo.stdout}${demo.stderr}`);
    console.log('installed package: loopwatch demo reported every blocking route');
  }
  console.log('package check passed');
} catch (err) {
  if (!process.exitCode) {
    console.error(`package check FAILED: ${err.message}`);
    process.exitCode = 1;
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
