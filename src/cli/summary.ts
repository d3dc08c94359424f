/**
 * Block lines in, summary out: what `loopwatch report`, `loopwatch run` and the demo
 * print. Reads any line stream: loopwatch's own lines (`name: "loopwatch"`) and the lines
 * it writes through the app's pino logger (`component: "loopwatch"`) are blocks, also behind
 * a prefix (a timestamp, a container name); other JSON lines are counted and skipped.
 */
import type { BlockEvent } from '../shared/event.js';

/** What a line is. */
export type LineKind = 'block' | 'ongoing' | 'summary' | 'other' | 'not-json' | 'empty';

export interface ReportBlock {
  pid: number | null;
  block: BlockEvent;
  /** Only ongoing lines were seen for it: the process ended (or the log was cut) while it was blocked. */
  stillBlocked: boolean;
}

const BLOCK_MESSAGE = 'event loop blocked';
/** Flood control's summary of the blocks it wrote no line for (src/watchdog/flood.ts). */
const SUMMARY_MESSAGE = 'event loop blocks suppressed';

function isSummaryLine(v: unknown): v is { suppressed: { count: number; totalMs: number; worstMs: number } } {
  if (v === null || typeof v !== 'object') return false;
  const o = v as { name?: unknown; msg?: unknown; suppressed?: { count?: unknown } };
  return o.name === 'loopwatch' && o.msg === SUMMARY_MESSAGE && typeof o.suppressed?.count === 'number';
}

function isBlockLine(v: unknown): v is { pid?: unknown; block: BlockEvent } {
  if (v === null || typeof v !== 'object') return false;
  const o = v as { name?: unknown; component?: unknown; msg?: unknown; block?: unknown };
  if (o.msg !== BLOCK_MESSAGE || o.block === null || typeof o.block !== 'object') return false;
  const b = o.block as Partial<BlockEvent>;
  return (o.name === 'loopwatch' || o.component === 'loopwatch') && typeof b.durationMs === 'number' && typeof b.startedAt === 'string';
}

/** Collects the blocks of a line stream. An ongoing line stands for its block until the block's final line comes. */
export class BlockCollector {
  lines = 0;
  other = 0;
  notJson = 0;
  /** 1-based number of the first line that is not JSON. */
  firstNotJson: number | null = null;
  readonly #final: ReportBlock[] = [];
  /** The latest ongoing line of each block whose final line has not come (yet). */
  readonly #ongoing = new Map<string, ReportBlock>();
  readonly #finished = new Set<string>();
  /** The block of the last 'block' or 'ongoing' line. */
  last: ReportBlock | null = null;
  /** Flood control's summary lines: blocks counted there, not itemized in any line. */
  readonly suppressed = { lines: 0, blocks: 0, totalMs: 0, worstMs: 0 };

  add(line: string): LineKind {
    this.lines++;
    const text = line.trim();
    if (text === '') return 'empty';
    // A prefix before the JSON is allowed: `kubectl logs --timestamps`, `docker compose logs`.
    const brace = text.indexOf('{');
    let value: unknown;
    try {
      value = brace === -1 ? undefined : JSON.parse(brace === 0 ? text : text.slice(brace));
    } catch {
      value = undefined;
    }
    if (value === undefined) {
      this.notJson++;
      this.firstNotJson ??= this.lines;
      return 'not-json';
    }
    if (isSummaryLine(value)) {
      const x = value.suppressed;
      this.suppressed.lines++;
      this.suppressed.blocks += x.count;
      this.suppressed.totalMs += Number(x.totalMs) || 0;
      this.suppressed.worstMs = Math.max(this.suppressed.worstMs, Number(x.worstMs) || 0);
      return 'summary';
    }
    if (!isBlockLine(value)) {
      this.other++;
      return 'other';
    }
    const pid = typeof value.pid === 'number' ? value.pid : null;
    const block = value.block;
    // Ongoing lines and the final line of one block share the thread and start.
    const key = `${pid}\u0000${block.thread?.id}\u0000${block.startedAt}`;
    this.last = { pid, block, stillBlocked: block.ongoing === true };
    if (block.ongoing) {
      if (!this.#finished.has(key)) this.#ongoing.set(key, this.last);
      return 'ongoing';
    }
    this.#ongoing.delete(key);
    this.#finished.add(key);
    this.#final.push(this.last);
    return 'block';
  }

  /** Every block: finished ones in line order, then those only seen as ongoing. */
  blocks(): ReportBlock[] {
    return [...this.#final, ...this.#ongoing.values()];
  }
}

/** `function (file:line)` of a block's culprit, or `(no stack)`. */
export function culpritText(block: BlockEvent): string {
  const c = block.culprit;
  return c ? `${c.function} (${c.file}:${c.line})` : '(no stack)';
}

/**
 * One line for a block as it is reported: state, duration, where, culprit, extra (a pid),
 * hint. `sourceWidth` pads the where column (the demo's aligned lines).
 */
export function blockLine(block: BlockEvent, opts: { msWidth?: number; sourceWidth?: number; extra?: string } = {}): string {
  const state = block.ongoing ? 'still blocked' : 'blocked';
  const source = sourceOf(block.context).padEnd(opts.sourceWidth ?? 0);
  return `${state} ${fmtMs(block.durationMs).padStart(opts.msWidth ?? 6)} ms  ${source}  ${culpritText(block)}${opts.extra ?? ''}${block.hint ? `  hint: ${block.hint}` : ''}`;
}

/** Where a block ran, in a few words: `GET /users/:id`, `job nightly`, `test a.test.ts > adds`. */
export function sourceOf(ctx: BlockEvent['context'] | null | undefined): string {
  if (!ctx || !ctx.kind) return '(no context)';
  if (ctx.test && (ctx.kind === 'test' || ctx.kind === 'runner')) return `test ${ctx.test.file ? `${ctx.test.file} > ` : ''}${ctx.test.name}`;
  if (ctx.kind === 'job') return `job ${ctx.job ?? '?'}`;
  const where = ctx.route ?? ctx.path;
  if (ctx.method || where) return `${ctx.method ?? '?'} ${where ?? '?'}`;
  // Inferred by the in-flight ledger among several requests (docs/context.md).
  if (ctx.candidates?.length) return `${ctx.kind ?? 'http'}: one of ${ctx.candidates.join(', ')}`;
  return `(${ctx.kind})`;
}

export interface Group {
  source: string;
  culprit: string;
  /** file:line of the culprit in the group's worst block, or '' without a stack. */
  where: string;
  count: number;
  worstMs: number;
  totalMs: number;
  hints: string[];
  /** The causes of its blocks (event.cause: code, native, gc, starved), most frequent first. */
  causes: string[];
  stillBlocked: number;
  /** The worst block of the group. */
  example: ReportBlock;
}

/** Blocks grouped by source and culprit, most blocked time first. */
export function summarize(blocks: readonly ReportBlock[]): Group[] {
  const groups = new Map<string, Group>();
  const causeCounts = new Map<Group, Map<string, number>>();
  for (const b of blocks) {
    const source = sourceOf(b.block.context);
    const c = b.block.culprit;
    const culprit = c ? c.function : '(no stack)';
    // One row per function: the samples of a loop land on different lines of it.
    const key = `${source}\u0000${culprit}\u0000${c ? c.file : ''}`;
    let g = groups.get(key);
    if (!g) {
      g = { source, culprit, where: c ? `${c.file}:${c.line}` : '', count: 0, worstMs: 0, totalMs: 0, hints: [], causes: [], stillBlocked: 0, example: b };
      causeCounts.set(g, new Map());
      groups.set(key, g);
    }
    g.count++;
    g.totalMs += b.block.durationMs;
    if (b.block.durationMs > g.worstMs) {
      g.worstMs = b.block.durationMs;
      g.example = b;
      if (c) g.where = `${c.file}:${c.line}`;
    }
    if (b.stillBlocked) g.stillBlocked++;
    if (b.block.hint && !g.hints.includes(b.block.hint)) g.hints.push(b.block.hint);
    const cause = typeof b.block.cause === 'string' ? b.block.cause : null;
    if (cause) causeCounts.get(g)!.set(cause, (causeCounts.get(g)!.get(cause) ?? 0) + 1);
  }
  for (const [g, counts] of causeCounts) g.causes = [...counts].sort((a, b) => b[1] - a[1]).map(([c]) => c);
  return [...groups.values()].sort((a, b) => b.totalMs - a.totalMs);
}

export const fmtMs = (ms: number): string => ms.toFixed(1);

/** The summary table: route / job / test, culprit, blocks, worst and total ms, cause, hint. */
export function formatTable(groups: readonly Group[]): string {
  const rows = groups.map((g) => [
    g.source,
    `${g.culprit}${g.where ? ` (${g.where})` : ''}`,
    `${g.count}${g.stillBlocked ? '*' : ''}`,
    fmtMs(g.worstMs),
    fmtMs(g.totalMs),
    g.causes.join(', ') || '-',
    g.hints.join('; ') || '-',
  ]);
  const head = ['route / job / test', 'culprit', 'blocks', 'worst ms', 'total ms', 'cause', 'hint'];
  const right = [false, false, true, true, true, false, false];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  const out = [line(head), line(widths.map((w, i) => '-'.repeat(i === widths.length - 1 ? head[i].length : w))), ...rows.map(line)];
  if (groups.some((g) => g.stillBlocked)) out.push('* includes blocks still going on when their process last wrote (no final line)');
  return out.join('\n');
}

/** The first frames of a block's stack, innermost first, one per line. */
export function formatStack(block: BlockEvent, max = 6, indent = '    '): string {
  const frames = block.stack.slice(0, max).map((f) => `${indent}at ${f.function} (${f.file}:${f.line}:${f.column})`);
  if (block.stack.length > max) frames.push(`${indent}…`);
  return frames.join('\n');
}

/** `report --json`: the totals, the groups (with their worst block) and what was skipped. */
export function toJson(collector: BlockCollector, groups: readonly Group[]): object {
  const blocks = groups.reduce((n, g) => n + g.count, 0);
  return {
    blocks,
    totalMs: Math.round(groups.reduce((n, g) => n + g.totalMs, 0) * 10) / 10,
    worstMs: groups.reduce((n, g) => Math.max(n, g.worstMs), 0),
    groups: groups.map((g) => ({
      source: g.source,
      culprit: g.example.block.culprit,
      count: g.count,
      worstMs: g.worstMs,
      totalMs: Math.round(g.totalMs * 10) / 10,
      hints: g.hints,
      causes: g.causes,
      stillBlocked: g.stillBlocked,
      fingerprint: g.example.block.fingerprint,
      context: g.example.block.context,
      stack: g.example.block.stack,
    })),
    lines: collector.lines,
    suppressed: { ...collector.suppressed, totalMs: Math.round(collector.suppressed.totalMs * 10) / 10 },
    skipped: { otherJson: collector.other, notJson: collector.notJson },
  };
}
