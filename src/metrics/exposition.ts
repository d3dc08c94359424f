/**
 * Text exposition of metric families: the Prometheus text format 0.0.4, and OpenMetrics
 * 1.0.0 when the scraper asks for it (Prometheus does by default, in its Accept header).
 * Used by the standalone endpoint, which cannot rely on prom-client (an optional peer, and
 * not loaded into the watchdog worker).
 */
import type { MetricFamily } from './families.js';

export type ExpositionFormat = 'prometheus' | 'openmetrics';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** OpenMetrics when the Accept header lists it with a non-zero quality, else the Prometheus text format. */
export function negotiate(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'prometheus';
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    if (type.toLowerCase() !== 'application/openmetrics-text') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (!q || Number(q.slice(2)) > 0) return 'openmetrics';
  }
  return 'prometheus';
}

export function contentType(format: ExpositionFormat): string {
  return format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string, openMetrics: boolean): string {
  const s = v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return openMetrics ? s.replace(/"/g, '\\"') : s;
}

function labelString(labels: Record<string, string>): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  return `{${keys.map((k) => `${k}="${escapeLabelValue(labels[k])}"`).join(',')}}`;
}

/** The unit OpenMetrics declares for a family, from its name's suffix. */
function unitOf(name: string): string | null {
  const m = /_(seconds|ratio|bytes)$/.exec(name);
  return m ? m[1] : null;
}

/** Renders families (a list, or buildFamilies' map) in the order given. */
export function render(families: readonly MetricFamily[] | ReadonlyMap<string, MetricFamily>, format: ExpositionFormat): string {
  const om = format === 'openmetrics';
  const lines: string[] = [];
  for (const f of families.values()) {
    // OpenMetrics names a counter family without `_total` and puts it on the samples.
    const counter = f.type === 'counter';
    const familyName = om && counter ? f.name.replace(/_total$/, '') : f.name;
    const sampleBase = om && counter ? `${familyName}_total` : f.name;
    lines.push(`# HELP ${familyName} ${escapeHelp(f.help, om)}`);
    lines.push(`# TYPE ${familyName} ${f.type}`);
    const unit = om ? unitOf(familyName) : null;
    if (unit) lines.push(`# UNIT ${familyName} ${unit}`);
    for (const s of f.samples) {
      lines.push(`${sampleBase}${s.suffix}${labelString(s.labels)} ${formatValue(s.value)}`);
    }
  }
  if (om) lines.push('# EOF');
  return `${lines.join('\n')}\n`;
}
