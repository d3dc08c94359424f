/**
 * A strict reader of the Prometheus text format (0.0.4) and OpenMetrics (1.0.0), enough to
 * check what a scrape returned: families with their TYPE/HELP/UNIT and samples. It throws
 * on lines it does not understand, so a malformed exposition fails the test that reads it.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  unit?: string;
  samples: Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( \d+)?$/;
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y;

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  // Case-insensitive, as Prometheus reads it: prom-client writes "Nan".
  if (s.toLowerCase() === 'nan') return Number.NaN;
  const v = Number(s);
  if (s.trim() === '' || (Number.isNaN(v))) throw new Error(`bad sample value ${JSON.stringify(s)}`);
  return v;
}

function parseLabels(s: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!s) return out;
  LABEL.lastIndex = 0;
  while (LABEL.lastIndex < s.length) {
    const m = LABEL.exec(s);
    if (!m) throw new Error(`bad labels {${s}}`);
    if (m[1] in out) throw new Error(`duplicate label ${m[1]} in {${s}}`);
    out[m[1]] = m[2].replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    if (m[3] === '') break;
  }
  return out;
}

/** Sample names that belong to a family: itself, and the histogram/counter suffixes. */
function familyOf(sample: string, families: Map<string, Family>): Family | undefined {
  if (families.has(sample)) return families.get(sample);
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
    if (sample.endsWith(suffix)) {
      const f = families.get(sample.slice(0, -suffix.length));
      if (f) return f;
    }
  }
  return undefined;
}

export function parseExposition(text: string, format: 'prometheus' | 'openmetrics' = 'prometheus'): Map<string, Family> {
  const families = new Map<string, Family>();
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (format === 'openmetrics' && lines.at(-1) !== '# EOF') throw new Error('OpenMetrics exposition does not end with # EOF');
  const get = (name: string): Family => {
    let f = families.get(name);
    if (!f) families.set(name, (f = { name, type: 'untyped', help: '', samples: [] }));
    return f;
  };
  for (const line of lines) {
    if (line === '' || line === '# EOF') continue;
    const meta = /^# (HELP|TYPE|UNIT) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
    if (meta) {
      const f = get(meta[2]);
      if (meta[1] === 'HELP') f.help = meta[3];
      else if (meta[1] === 'TYPE') f.type = meta[3];
      else f.unit = meta[3];
      continue;
    }
    if (line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`bad sample line ${JSON.stringify(line)}`);
    const f = familyOf(m[1], families);
    if (!f) throw new Error(`sample ${m[1]} has no # TYPE line`);
    f.samples.push({ name: m[1], labels: parseLabels(m[3]), value: parseValue(m[4]) });
  }
  return families;
}

/** Samples of `name` whose labels include `match`. */
export function samples(families: Map<string, Family>, name: string, match: Record<string, string> = {}): Sample[] {
  const out: Sample[] = [];
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) out.push(s);
    }
  }
  return out;
}

/** The sum of the values of `name` whose labels include `match` (0 when there are none). */
export function total(families: Map<string, Family>, name: string, match: Record<string, string> = {}): number {
  return samples(families, name, match).reduce((s, x) => s + x.value, 0);
}
