/**
 * A reader for the YAML subset our rule files use (block mappings and sequences, plain and
 * quoted scalars, `|`/`>` block scalars, `[]`), so the tests can walk the rules without a
 * YAML dependency. Anything outside that subset throws with the line number rather than
 * being misread; promtool, run by promtool.test.ts, is the judge of the full syntax.
 */

export type Yaml = string | Yaml[] | { [key: string]: Yaml };

interface Line {
  no: number;
  indent: number;
  text: string;
}

export function parseYaml(source: string): Yaml {
  const lines: Line[] = [];
  source.split('\n').forEach((raw, i) => {
    const text = raw.replace(/\s+$/, '');
    const body = text.trimStart();
    if (body === '' || body.startsWith('#')) {
      // Blank lines matter inside block scalars only; keep them as empty text there.
      lines.push({ no: i + 1, indent: -1, text: '' });
      return;
    }
    if (raw.includes('\t')) throw new SyntaxError(`line ${i + 1}: tabs are not supported`);
    lines.push({ no: i + 1, indent: text.length - body.length, text: body });
  });
  const state = { lines, pos: 0 };
  skipBlank(state);
  if (state.pos >= lines.length) return {};
  const value = parseNode(state, lines[state.pos].indent);
  skipBlank(state);
  if (state.pos < lines.length) throw new SyntaxError(`line ${lines[state.pos].no}: unexpected indentation`);
  return value;
}

interface State {
  lines: Line[];
  pos: number;
}

function skipBlank(s: State): void {
  while (s.pos < s.lines.length && s.lines[s.pos].indent === -1) s.pos++;
}

function parseNode(s: State, indent: number): Yaml {
  const line = s.lines[s.pos];
  return line.text.startsWith('- ') || line.text === '-' ? parseSequence(s, indent) : parseMapping(s, indent);
}

function parseSequence(s: State, indent: number): Yaml[] {
  const out: Yaml[] = [];
  for (skipBlank(s); s.pos < s.lines.length && s.lines[s.pos].indent === indent; skipBlank(s)) {
    const line = s.lines[s.pos];
    if (!line.text.startsWith('-')) throw new SyntaxError(`line ${line.no}: expected "- " in a sequence`);
    const rest = line.text.slice(1).trimStart();
    if (rest === '') {
      s.pos++;
      skipBlank(s);
      out.push(parseNode(s, s.lines[s.pos].indent));
      continue;
    }
    // "- key: value" opens a mapping whose keys sit where "key" starts.
    const inner = indent + (line.text.length - rest.length);
    s.lines[s.pos] = { no: line.no, indent: inner, text: rest };
    if (isMappingEntry(rest)) out.push(parseMapping(s, inner));
    else {
      out.push(scalar(rest, line.no));
      s.pos++;
    }
  }
  return out;
}

function isMappingEntry(text: string): boolean {
  return /^("[^"]*"|'[^']*'|[^'"\s][^:]*?):(\s|$)/.test(text);
}

function parseMapping(s: State, indent: number): { [key: string]: Yaml } {
  const out: { [key: string]: Yaml } = {};
  for (skipBlank(s); s.pos < s.lines.length && s.lines[s.pos].indent === indent; skipBlank(s)) {
    const line = s.lines[s.pos];
    const m = /^("[^"]*"|'[^']*'|[^'"\s][^:]*?):(?:\s+(.*))?$/.exec(line.text);
    if (!m) throw new SyntaxError(`line ${line.no}: expected "key: value", got ${JSON.stringify(line.text)}`);
    const key = scalar(m[1], line.no);
    if (typeof key !== 'string') throw new SyntaxError(`line ${line.no}: bad key`);
    if (key in out) throw new SyntaxError(`line ${line.no}: duplicate key ${key}`);
    const value = m[2] ?? '';
    s.pos++;
    if (/^[|>][-+]?$/.test(value)) out[key] = blockScalar(s, indent, value);
    else if (value !== '') out[key] = scalar(value, line.no);
    else {
      skipBlank(s);
      const next = s.lines[s.pos];
      // A sequence may sit at the key's own indentation ("key:\n- a").
      if (next && (next.indent > indent || (next.indent === indent && next.text.startsWith('-')))) out[key] = parseNode(s, next.indent);
      else out[key] = '';
    }
  }
  return out;
}

function blockScalar(s: State, parentIndent: number, header: string): string {
  const body: string[] = [];
  let indent = -1;
  while (s.pos < s.lines.length) {
    const line = s.lines[s.pos];
    if (line.indent !== -1 && line.indent <= parentIndent) break;
    if (line.indent !== -1 && indent === -1) indent = line.indent;
    body.push(line.indent === -1 ? '' : ' '.repeat(line.indent - indent) + line.text);
    s.pos++;
  }
  while (body.length && body[body.length - 1] === '') body.pop();
  const folded = header.startsWith('>')
    ? body.reduce((acc, l, i) => (i === 0 ? l : l === '' || body[i - 1] === '' ? `${acc}\n${l}` : `${acc} ${l}`), '')
    : body.join('\n');
  return header.endsWith('-') ? folded : `${folded}\n`;
}

function scalar(text: string, no: number): Yaml {
  if (text === '[]') return [];
  if (text === '{}') return {};
  if (text.startsWith("'")) {
    if (!text.endsWith("'") || text.length < 2) throw new SyntaxError(`line ${no}: unterminated '-string`);
    return text.slice(1, -1).replace(/''/g, "'");
  }
  if (text.startsWith('"')) {
    if (!text.endsWith('"') || text.length < 2) throw new SyntaxError(`line ${no}: unterminated "-string`);
    return text.slice(1, -1).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c));
  }
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw new SyntaxError(`line ${no}: unterminated flow sequence`);
    return text.slice(1, -1).split(',').map((p) => scalar(p.trim(), no));
  }
  if (/^[{&*!%@`]/.test(text)) throw new SyntaxError(`line ${no}: unsupported YAML: ${text}`);
  if (/\s#/.test(text)) throw new SyntaxError(`line ${no}: trailing comments are not supported: ${text}`);
  return text;
}
