/**
 * `node --require loopwatch/register app.js` or `node --import loopwatch/register app.js`:
 * starts the agent from LOOPWATCH_* environment variables. It never throws into the host:
 * bad values become one warning each and the defaults apply.
 */
import { isMainThread } from 'node:worker_threads';
import { start, startInWorkerThread } from './agent.js';
import { enabledFromEnv, optionsFromEnv, workerThreadsFromEnv } from './config.js';
import { WARNING_CODES, warnOnce } from './errors.js';
import { prepareOtlp, startOtlp } from './exporters/otlp-register.js';
import { installTestRunnerContext } from '../integrations/test-runners.js';

// The app's own worker threads inherit --require/--import through execArgv or NODE_OPTIONS.
// With LOOPWATCH_WORKER_THREADS=on each gets its own heartbeat and watchdog (blocks there
// carry thread {id, name}); by default the entry does nothing there, since every watched
// worker costs a thread and 9-12 MB. loopwatch's watchdog workers never start an agent
// (execArgv [], a NODE_OPTIONS without this entry, and a marker in their environment).
try {
  if (enabledFromEnv()) {
    const options = optionsFromEnv();
    if (isMainThread) {
      workerThreadsFromEnv(); // read here too: a bad value warns before the app starts a worker
      const otlp = options.otel === false ? null : prepareOtlp();
      startOtlp(start(options), otlp);
      installTestRunnerContext();
    } else if (workerThreadsFromEnv()) {
      startInWorkerThread(options);
    }
  }
} catch (err) {
  warnOnce('register', `loopwatch did not start: ${(err as Error)?.message ?? err}`, WARNING_CODES.START_FAILED);
}
