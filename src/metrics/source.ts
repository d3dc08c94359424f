/**
 * How loopwatch/prometheus finds the running agent's data. The agent lives on a global
 * (one per process, shared by the ESM and CJS copies of the package), so the handle is a
 * registered symbol and the data is plain: no class identity is needed across copies.
 */
import type { ResolvedConfig } from '../config.js';
import type { SharedState } from '../shared/shared-state.js';
import type { BlockMetrics } from './block-store.js';

export const METRICS_SOURCE = Symbol.for('loopwatch.metrics.v1');

export interface MetricsSource {
  readonly state: SharedState;
  readonly blocks: BlockMetrics;
  readonly config: ResolvedConfig;
  /** The thread the agent watches, as its block events name it (the name can be learnt late: Node 20). */
  readonly thread: { readonly id: number; readonly name: string };
}

/** Where the running agent lives (src/agent.ts): one per process, for the ESM and CJS copies. */
export const AGENT_KEY = Symbol.for('loopwatch.agent.v1');

/** The running agent's metrics source, if an agent runs in this process. */
export function currentSource(): MetricsSource | undefined {
  const agent = (globalThis as Record<symbol, unknown>)[AGENT_KEY] as { [METRICS_SOURCE]?: () => MetricsSource } | undefined;
  const get = agent?.[METRICS_SOURCE];
  return typeof get === 'function' ? get.call(agent) : undefined;
}
