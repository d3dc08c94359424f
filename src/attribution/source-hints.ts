import { LATE_SAMPLE_MS, type Sample, sampleCulprit } from './culprit.js';
import type { Frame } from './frames.js';
import { findRule, type HintRule, ruleForSource } from './hints.js';

/**
 * What the app's source text says about a sample that waited on native code.
 *
 * V8 serves the sampling interrupt only at a stack check of JavaScript code. Optimized loops
 * around a native call (`while (…) JSON.parse(big)`) have none inside, so a late sample (see
 * LATE_SAMPLE_MS) is served after the loop has finished, often at the entry of the next
 * function called, and the function that did the work may already have returned. The stack
 * then shows where the work returned to, not the work. Two things can still be read, in the
 * worker, from the source of the frame where the sample landed:
 *
 * - the call made just before: when the sample is at a fresh call's entry and the calling
 *   line calls exactly one other function defined in the same file
 *   (`send(res, { rows: parseReport(body) })`), that function ran before the fresh call
 *   and is named as the culprit (`inferred`), its body searched for a known blocking call;
 * - otherwise the lines next to the position, nearest first, for a known blocking call of
 *   the hint table (`JSON.parse(`, `gzipSync(`…): before it when the sample is at a fresh
 *   call, after it when it resumes at a loop's head.
 */
export interface SourceFinding {
  inferred: Frame | null;
  rule: HintRule | null;
}

/** Lines around a position searched for a known call, nearest first. */
const WINDOW = 3;
/** Lines of an inferred function's body searched for a known call. */
const BODY_LINES = 60;

const KEYWORDS = new Set(['if', 'for', 'while', 'switch', 'catch', 'return', 'function', 'typeof', 'await', 'new', 'super', 'import', 'require', 'void', 'delete', 'yield', 'in', 'of']);
const CALL = /(^|[^.\w$])([A-Za-z_$][\w$]*)\s*\(/g;

const isCode = (line: string): boolean => {
  const t = line.trimStart();
  return !(t.startsWith('//') || t.startsWith('*') || t.startsWith('/*'));
};

function escape(name: string): string {
  return name.replace(/[$]/g, '\\$');
}

/** Where `name` is defined as a function in `lines`: 0-based line and 1-based column, or null. */
function definition(lines: readonly string[], name: string): { line: number; column: number } | null {
  const n = escape(name);
  const forms = new RegExp(`(?:\\bfunction\\s*\\*?\\s*(${n})\\s*\\(|\\b(?:const|let|var)\\s+(${n})\\s*=\\s*(?:async\\s+)?(?:function\\b|\\(|[\\w$]+\\s*=>))`);
  for (let i = 0; i < lines.length; i++) {
    const m = forms.exec(lines[i]);
    if (m) return { line: i, column: lines[i].indexOf(name, m.index) + 1 };
  }
  return null;
}

function bodyRule(lines: readonly string[], from: number): HintRule | null {
  const indent = /^\s*/.exec(lines[from])![0].length;
  for (let i = from; i < Math.min(lines.length, from + BODY_LINES); i++) {
    const line = lines[i];
    if (i > from && /^\s*}/.test(line) && /^\s*/.exec(line)![0].length <= indent) break;
    if (!isCode(line)) continue;
    const rule = ruleForSource(line);
    if (rule) return rule;
  }
  return null;
}

const FUNCTION_HEAD = /\bfunction\b|=>/;

/**
 * Whether the call whose `(` is at `open` is still open at `pos` (0-based): an enclosing call
 * such as `emit` in `emit({ end: now() })` runs after `now` returns, so it cannot be the work
 * that ran before `now` was entered. Strings are not parsed; a parenthesis inside one can
 * only make a call look enclosing, which infers nothing rather than something wrong.
 */
function encloses(line: string, open: number, pos: number): boolean {
  if (open >= pos) return false;
  let depth = 0;
  for (let i = open; i < line.length; i++) {
    if (line[i] === '(') depth++;
    else if (line[i] === ')' && --depth === 0) return i >= pos;
  }
  return true;
}

/**
 * The known call nearest to a position, looking only where the waited-for call can be: before
 * the position when the sample is at a fresh call (the work ran before that call), after it
 * when the frame is resuming at a loop's head (the loop's body follows). The search stays
 * inside the function: it stops at a line that starts another function.
 */
function windowRule(lines: readonly string[], at: number, backwards: boolean): HintRule | null {
  const step = backwards ? -1 : 1;
  for (let d = 0; d <= WINDOW; d++) {
    const i = at + d * step;
    if (i < 0 || i >= lines.length) break;
    if (d > 0 && FUNCTION_HEAD.test(lines[i])) break;
    if (!isCode(lines[i])) continue;
    const rule = ruleForSource(lines[i]);
    if (rule) return rule;
  }
  return null;
}

/** Reads the source of a late sample's culprit; `read` gives a frame's file as lines (or null). */
export function readSource(sample: Sample, read: (file: string) => readonly string[] | null): SourceFinding {
  const none: SourceFinding = { inferred: null, rule: null };
  if (sample.latencyMs < LATE_SAMPLE_MS) return none;
  // A known call on the stack already says what the call was.
  if (findRule([sample])) return none;
  const k = sampleCulprit(sample);
  if (k === -1) return none;
  const at = sample.frames[k];
  if (at.origin !== 'app' || at.line < 1) return none;
  const lines = read(at.file);
  if (!lines || at.line > lines.length) return none;
  const row = at.line - 1;

  const fresh = sample.frames[0];
  const atCall = k === 1 && fresh.atEntry;
  if (atCall) {
    const callee = fresh.function.slice(fresh.function.lastIndexOf('.') + 1);
    const names = new Set<string>();
    const text = lines[row];
    // The caller's column is where it called the fresh function.
    const callAt = Math.max(0, at.column - 1);
    for (const m of text.matchAll(CALL)) {
      const name = m[2];
      const open = (m.index ?? 0) + m[0].length - 1;
      if (name !== callee && !KEYWORDS.has(name) && !encloses(text, open, callAt)) names.add(name);
    }
    const defined = [...names].map((name) => ({ name, def: definition(lines, name) })).filter((c) => c.def !== null);
    if (defined.length === 1) {
      const { name, def } = defined[0];
      const inferred: Frame = { function: name, file: at.file, line: def!.line + 1, column: def!.column, inApp: true, atEntry: false, origin: 'app' };
      return { inferred, rule: bodyRule(lines, def!.line) };
    }
  }
  return { inferred: null, rule: windowRule(lines, row, atCall) };
}
