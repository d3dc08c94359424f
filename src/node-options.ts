/**
 * NODE_OPTIONS as Node reads it (src/node_options.cc, ParseNodeOptionsEnvVar): words split
 * on spaces; double quotes group a word, and inside them a backslash takes the next
 * character as it is. The CLI adds the agent's preload to it; the agent takes the preload
 * out of it for its watchdog thread.
 */

/** The words of a NODE_OPTIONS value. */
export function splitNodeOptions(value: string): string[] {
  const words: string[] = [];
  let word = '';
  let started = false;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (quoted && c === '\\' && i + 1 < value.length) {
      word += value[++i];
    } else if (c === '"') {
      quoted = !quoted;
      started = true;
    } else if (c === ' ' && !quoted) {
      if (started) words.push(word);
      word = '';
      started = false;
    } else {
      word += c;
      started = true;
    }
  }
  if (started) words.push(word);
  return words;
}

/** One word for NODE_OPTIONS: quoted, with `"` and `\` escaped, when it holds spaces, quotes or backslashes. */
export function quoteNodeOption(word: string): string {
  return /[\s"\\]/.test(word) || word === '' ? `"${word.replace(/["\\]/g, '\\$&')}"` : word;
}

const PRELOAD = /^(--require|-r|--import|--loader|--experimental-loader)$/;
const PRELOAD_INLINE = /^(--require|-r|--import|--loader|--experimental-loader)=(.*)$/s;

/** loopwatch/register, or a path to an installed copy's dist/register.{cjs,js}. */
const REGISTER = /^loopwatch\/register$|[/\\]loopwatch[/\\]dist[/\\]register\.c?js$/;

/** Whether a preload's module is loopwatch's register entry: by package name or path, or one of `own` (absolute paths of this copy). */
function isOurs(module: string, own: readonly string[]): boolean {
  return REGISTER.test(module) || own.includes(module);
}

/** The words, without the preloads of loopwatch's register entry. */
export function withoutOurPreload(words: readonly string[], own: readonly string[] = []): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (PRELOAD.test(w) && i + 1 < words.length && isOurs(words[i + 1], own)) {
      i++;
      continue;
    }
    const inline = PRELOAD_INLINE.exec(w);
    if (inline && isOurs(inline[2], own)) continue;
    out.push(w);
  }
  return out;
}

/** Whether NODE_OPTIONS already preloads loopwatch's register entry. */
export function hasOurPreload(value: string | undefined, own: readonly string[] = []): boolean {
  if (!value) return false;
  const words = splitNodeOptions(value);
  return withoutOurPreload(words, own).length !== words.length;
}

/** The user's NODE_OPTIONS with `--require <register>` after them, unless a loopwatch preload is there already. */
export function addPreload(value: string | undefined, register: string): string {
  const own = (value ?? '').trim();
  if (hasOurPreload(own, [register])) return own;
  return `${own}${own ? ' ' : ''}--require ${quoteNodeOption(register)}`;
}
