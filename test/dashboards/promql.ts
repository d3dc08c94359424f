/**
 * Just enough of a PromQL lexer to list what an expression reads: metric names with the
 * labels of their matchers, the labels of `by`/`without`/`on`/`ignoring`/`group_*`, and
 * the functions it calls. Grafana variables ($job, ${job}, $__rate_interval) are accepted
 * where Grafana substitutes them. Used to hold the dashboard and the rules to the metric
 * contract (src/metrics/names.ts).
 */

export interface Selector {
  metric: string | null;
  labels: string[];
}

export interface ExprRefs {
  selectors: Selector[];
  groupingLabels: string[];
  functions: string[];
}

const AGGREGATORS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile']);
const FUNCTIONS = new Set([
  'abs', 'absent', 'absent_over_time', 'acos', 'acosh', 'asin', 'asinh', 'atan', 'atanh', 'avg_over_time', 'ceil', 'changes',
  'clamp', 'clamp_max', 'clamp_min', 'cos', 'cosh', 'count_over_time', 'day_of_month', 'day_of_week', 'day_of_year',
  'days_in_month', 'deg', 'delta', 'deriv', 'exp', 'floor', 'histogram_quantile', 'holt_winters', 'hour', 'idelta',
  'increase', 'irate', 'label_join', 'label_replace', 'last_over_time', 'ln', 'log10', 'log2', 'max_over_time',
  'min_over_time', 'minute', 'month', 'pi', 'predict_linear', 'present_over_time', 'quantile_over_time', 'rad', 'rate',
  'resets', 'round', 'scalar', 'sgn', 'sin', 'sinh', 'sort', 'sort_desc', 'sqrt', 'stddev_over_time', 'stdvar_over_time',
  'sum_over_time', 'tan', 'tanh', 'time', 'timestamp', 'vector', 'year',
]);
const SET_OPS = new Set(['and', 'or', 'unless', 'atan2']);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const CONSTANTS = new Set(['inf', 'nan']);

type Token =
  | { kind: 'ident'; value: string; at: number }
  | { kind: 'string'; value: string; at: number }
  | { kind: 'number'; value: string; at: number }
  | { kind: 'var'; value: string; at: number }
  | { kind: 'punct'; value: string; at: number };

export function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === '\\' && c !== '`' ? 2 : 1;
      if (j >= expr.length) throw new SyntaxError(`unterminated string at ${i} in ${expr}`);
      out.push({ kind: 'string', value: expr.slice(i + 1, j), at: i });
      i = j + 1;
      continue;
    }
    const variable = /^(\$\{[A-Za-z_]\w*(?::\w+)?\}|\$[A-Za-z_]\w*|\[\[[A-Za-z_]\w*\]\])/.exec(expr.slice(i));
    if (variable) {
      out.push({ kind: 'var', value: variable[0], at: i });
      i += variable[0].length;
      continue;
    }
    // Numbers and durations (5m, 1h30m, 0.2, 1e-3, 0x1f).
    const num = /^(0x[0-9a-fA-F]+|(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?((ms|s|m|h|d|w|y)(\d+(ms|s|m|h|d|w|y))*)?)/.exec(expr.slice(i));
    if (num) {
      out.push({ kind: 'number', value: num[0], at: i });
      i += num[0].length;
      continue;
    }
    const ident = /^[A-Za-z_:][A-Za-z0-9_:]*/.exec(expr.slice(i));
    if (ident) {
      out.push({ kind: 'ident', value: ident[0], at: i });
      i += ident[0].length;
      continue;
    }
    const punct = /^(=~|!~|!=|==|>=|<=|[(){}[\],=<>+\-*/%^@:])/.exec(expr.slice(i));
    if (punct) {
      out.push({ kind: 'punct', value: punct[0], at: i });
      i += punct[0].length;
      continue;
    }
    throw new SyntaxError(`unexpected ${JSON.stringify(c)} at ${i} in ${expr}`);
  }
  return out;
}

/** What an expression reads. Throws on an unknown function or a malformed selector. */
export function references(expr: string): ExprRefs {
  const tokens = tokenize(expr);
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  const functions: string[] = [];
  const at = (k: number): Token | undefined => tokens[k];
  const isPunct = (k: number, v: string): boolean => at(k)?.kind === 'punct' && at(k)?.value === v;

  /** Reads `{name op "value", ...}` starting at the `{`; returns the index after `}`. */
  const matchers = (k: number, metric: string | null): number => {
    const labels: string[] = [];
    k++;
    while (!isPunct(k, '}')) {
      const name = at(k);
      const op = at(k + 1);
      const value = at(k + 2);
      if (name?.kind !== 'ident' || op?.kind !== 'punct' || !['=', '!=', '=~', '!~'].includes(op.value) || value?.kind !== 'string') {
        throw new SyntaxError(`malformed label matcher at ${name?.at ?? expr.length} in ${expr}`);
      }
      labels.push(name.value);
      k += 3;
      if (isPunct(k, ',')) k++;
      else if (!isPunct(k, '}')) throw new SyntaxError(`expected , or } at ${at(k)?.at ?? expr.length} in ${expr}`);
    }
    selectors.push({ metric, labels });
    return k + 1;
  };

  let k = 0;
  while (k < tokens.length) {
    const t = tokens[k];
    if (t.kind === 'punct' && t.value === '[') {
      // Range or subquery: durations and variables only.
      while (k < tokens.length && !isPunct(k, ']')) k++;
      k++;
      continue;
    }
    if (t.kind === 'punct' && t.value === '{') {
      k = matchers(k, null);
      continue;
    }
    if (t.kind !== 'ident') {
      k++;
      continue;
    }
    const word = t.value;
    const lower = word.toLowerCase();
    if (GROUPING.has(lower)) {
      k++;
      if (isPunct(k, '(')) {
        for (k++; !isPunct(k, ')'); k++) {
          const l = at(k);
          if (!l) throw new SyntaxError(`unclosed ${word}( in ${expr}`);
          if (l.kind === 'ident') groupingLabels.push(l.value);
          else if (!(l.kind === 'punct' && l.value === ',')) throw new SyntaxError(`unexpected token in ${word}(...) of ${expr}`);
        }
        k++;
      }
      continue;
    }
    if (SET_OPS.has(lower) || CONSTANTS.has(lower) || lower === 'bool' || lower === 'offset') {
      k++;
      continue;
    }
    if (AGGREGATORS.has(word) && (isPunct(k + 1, '(') || (at(k + 1)?.kind === 'ident' && GROUPING.has(at(k + 1)!.value)))) {
      functions.push(word);
      k++;
      continue;
    }
    if (isPunct(k + 1, '(')) {
      if (!FUNCTIONS.has(word)) throw new SyntaxError(`unknown function ${word}() in ${expr}`);
      functions.push(word);
      k++;
      continue;
    }
    // Anything else that is a word is a metric name (or a recording rule's name).
    if (isPunct(k + 1, '{')) k = matchers(k + 1, word);
    else {
      selectors.push({ metric: word, labels: [] });
      k++;
    }
  }
  return { selectors, groupingLabels, functions };
}

/**
 * A Grafana variable query `label_values(selector, label)` as the selector it reads and the
 * label it lists; other variable queries are returned as they are.
 */
export function variableQuery(query: string): { expr: string; label: string | null } {
  const m = /^\s*label_values\(\s*(.+?)\s*,\s*([A-Za-z_]\w*)\s*\)\s*$/s.exec(query);
  return m ? { expr: m[1], label: m[2] } : { expr: query, label: null };
}
