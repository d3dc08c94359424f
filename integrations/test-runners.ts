/**
 * Test runners: a block inside a test names the test (`context.kind: "test"`,
 * `context.test: { file, name }`), and a block of the runner's own work outside any test
 * (collecting and importing test files, transpiling, reporting) is `kind: "runner"`, so CI
 * mode (`loopwatch run --fail-on-block`) can fail on the first and ignore the second.
 *
 * Nothing is loaded from the runners and nothing runs per test unless the process is one of
 * theirs:
 * - vitest: its worker keeps the running task at `globalThis.__vitest_worker__.current`
 *   (set before a test's hooks, reset after them); it is read only when a block is captured.
 * - node:test: a file's process (`node --test` starts one per file) gets a root
 *   `beforeEach`/`afterEach` pair that keeps the running test. Registering a root hook
 *   bootstraps node:test's harness, which reports on stdout at exit, so it is done only in a
 *   process the runner itself started (its pid is passed down in LOOPWATCH_TEST_RUNNER_PID),
 *   never in a process a test spawns, which inherits NODE_TEST_CONTEXT too.
 * Jest runs tests in a vm context of its own, out of reach of the capture: its blocks are
 * reported with the context they have, without the test.
 */
import { createRequire } from 'node:module';
import type { TestInfo } from '../src/shared/event.js';

const SLOT = Symbol.for('loopwatch.test.v1');
/** The scripts of npm, npx, yarn, pnpm and corepack. */
const PACKAGE_MANAGER = /[/\\](npm|npx)-cli\.js$|[/\\](npm|npx|yarn|pnpm|pnpx|corepack)(\.c?js)?$|[/\\]node_modules[/\\](yarn|pnpm|corepack)[/\\]/;
const RUNNER_PID_ENV = 'LOOPWATCH_TEST_RUNNER_PID';

interface Slot {
  /** Tests running now, outermost first (node:test runs subtests inside their parent). */
  running: TestInfo[];
  /** This process is a test runner's: work outside a test is the runner's. */
  runner: boolean;
}

type GlobalWithSlot = typeof globalThis & { [SLOT]?: Slot; __vitest_worker__?: unknown };

interface VitestTask {
  type?: unknown;
  name?: unknown;
  filepath?: unknown;
  suite?: VitestTask;
  file?: { filepath?: unknown };
}

/** A vitest task as a test, or null when it is not a test (a file being collected, a suite's hooks). */
function vitestTest(task: VitestTask | undefined): TestInfo | null {
  if (!task || task.type !== 'test') return null;
  const names: string[] = [];
  // Names from the test out to, not including, the file (which is the outermost suite).
  for (let t: VitestTask | undefined = task; t && t.filepath === undefined && names.length < 32; t = t.suite) {
    names.unshift(String(t.name));
  }
  const file = task.file?.filepath;
  return { file: typeof file === 'string' ? file : null, name: names.join(' > ') };
}

/**
 * The test running now: a test, null when this is a test runner's process but no test runs,
 * undefined when it is not a test runner's process. Called inside the capture interrupt:
 * plain reads, never throws.
 */
export function currentTest(): TestInfo | null | undefined {
  try {
    const g = globalThis as GlobalWithSlot;
    const slot = g[SLOT];
    if (slot && slot.running.length > 0) return slot.running[slot.running.length - 1];
    const worker = g.__vitest_worker__ as { current?: VitestTask } | undefined;
    if (worker !== null && typeof worker === 'object') return vitestTest(worker.current);
    return slot?.runner ? null : undefined;
  } catch {
    return undefined;
  }
}

function slot(): Slot {
  const g = globalThis as GlobalWithSlot;
  return (g[SLOT] ??= { running: [], runner: false });
}

interface NodeTestContext {
  name?: unknown;
  fullName?: unknown;
  filePath?: unknown;
}

function nodeTestHooks(): void {
  const s = slot();
  const nodeTest = createRequire(__filename)('node:test') as {
    beforeEach(fn: (t: NodeTestContext) => void): void;
    afterEach(fn: (t: NodeTestContext) => void): void;
  };
  nodeTest.beforeEach((t) => {
    // fullName (parents > test) and filePath are newer than Node 20's first releases.
    const name = typeof t.fullName === 'string' ? t.fullName : String(t.name);
    const file = typeof t.filePath === 'string' ? t.filePath : (process.argv[1] ?? null);
    s.running.push({ file, name });
  });
  nodeTest.afterEach(() => {
    s.running.pop();
  });
}

/**
 * Decides, once at start-up on the main thread, whether this process belongs to a test
 * runner, and installs what the runner needs. Never throws.
 */
export function installTestRunnerContext(env: NodeJS.ProcessEnv = process.env): void {
  try {
    const main = process.argv[1] ?? '';
    const nodeTestRunner = process.execArgv.some((a) => a === '--test' || a.startsWith('--test=')) && !env.NODE_TEST_CONTEXT;
    if (nodeTestRunner) {
      // Its children (one per test file) learn that their parent is the runner.
      env[RUNNER_PID_ENV] = String(process.pid);
      slot().runner = true;
      // --test-isolation=none runs every file's tests in the runner's own process.
      if (process.execArgv.some((a) => a === '--test-isolation=none' || a === '--experimental-test-isolation=none')) nodeTestHooks();
    } else if (env.NODE_TEST_CONTEXT && env[RUNNER_PID_ENV] === String(process.ppid)) {
      slot().runner = true;
      nodeTestHooks();
    } else if (/[/\\]vitest([/\\]|\.m?js$|$)/.test(main) || PACKAGE_MANAGER.test(main)) {
      // vitest's command and its forked workers (whose tests are read from its worker
      // state), and the package managers that start the tests (npm test, npx vitest): all
      // their own work is the runner's.
      slot().runner = true;
    }
  } catch {
    // A runner that changed shape: blocks keep the context they have.
  }
}
