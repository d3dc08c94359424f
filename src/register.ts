/**
 * `node --require loopwatch/register app.js` or `node --import loopwatch/register app.js`:
 * starts the agent from LOOPWATCH_* environment variables. It never throws into the host:
 * bad values become one warning each and the defaults apply.
 */
import { isMainThread } from 'node:worker_threads';
import { start } from './agent.js';
import { enabledFromEnv, optionsFromEnv } from './config.js';
import { WARNING_CODES, warnOnce } from './errors.js';
import { prepareOtlp, startOtlp } from './exporters/otlp-register.js';

// Off the main thread (the app's own workers inherit --require through NODE_OPTIONS)
// this entry does nothing.
if (isMainThread) {
  try {
    if (enabledFromEnv()) {
      const options = optionsFromEnv();
      const otlp = options.otel === false ? null : prepareOtlp();
      startOtlp(start(options), otlp);
    }
  } catch (err) {
    warnOnce('register', `loopwatch did not start: ${(err as Error)?.message ?? err}`, WARNING_CODES.START_FAILED);
  }
}
