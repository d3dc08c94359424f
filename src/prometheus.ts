/**
 * `loopwatch/prometheus`: loopwatch's metrics in your prom-client registry.
 *
 *   import { registerMetrics } from 'loopwatch/prometheus';
 *   registerMetrics();                       // prom-client's default registry
 *   registerMetrics({ registry, prefix });   // your own
 *
 * The standalone endpoint (no prom-client needed) is an option of the agent:
 * LOOPWATCH_PROMETHEUS_PORT, or start({ prometheusPort }).
 */
export { registerMetrics } from './exporters/prometheus.js';
export type { PrometheusCollectors, PrometheusOptions } from './exporters/prometheus.js';
