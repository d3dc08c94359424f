// The OpenTelemetry side of bench/overhead.mjs, loaded with `--require` into bench/app.mjs:
// the SDK's MeterProvider with a periodic reader exporting every BENCH_SCRAPE_MS (15 s) to
// an in-memory exporter (collection without a network), and RuntimeNodeInstrumentation
// with its defaults (event loop delay at 10 ms, ELU, GC observer, heap spaces, active
// resources). Prints nothing: the app's stdout carries its port.
'use strict';
const { registerInstrumentations } = require('@opentelemetry/instrumentation');
const { RuntimeNodeInstrumentation } = require('@opentelemetry/instrumentation-runtime-node');
const {
  AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader,
} = require('@opentelemetry/sdk-metrics');

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const meterProvider = new MeterProvider({
  readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: Number(process.env.BENCH_SCRAPE_MS) || 15_000 })],
});
registerInstrumentations({ meterProvider, instrumentations: [new RuntimeNodeInstrumentation()] });

// Read by bench/app.mjs's /__stats, so the bench can check this side ran OpenTelemetry and
// see whether an export fell into its window. The exporter keeps every export; a measured
// process lives a few seconds, so that stays small.
globalThis[Symbol.for('loopwatch.bench.tool')] = {
  name: 'otel',
  get scrapes() {
    return exporter.getMetrics().length;
  },
};
