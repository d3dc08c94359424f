/**
 * The names loopwatch/otel needs of the agent's OpenTelemetry bridge, apart from the bridge
 * itself, so that entry point does not bundle the agent: it reaches the running agent
 * through its global (metrics/source.ts, AGENT_KEY) and the bridge through this key.
 */

/** Instrumentation scope of loopwatch's meter and tracer. */
export const SCOPE = 'loopwatch';

/** The bridge of a running agent, so that the ESM and CJS copies (and loopwatch/otel) share one. */
export const OTEL_BRIDGE_KEY: unique symbol = Symbol.for('loopwatch.otel.v1') as never;
