/** A request target's path: the URL up to its query or fragment; null for a non-string. */
export function pathOf(url: unknown): string | null {
  if (typeof url !== 'string') return null;
  const q = url.search(/[?#]/);
  return q === -1 ? url : url.slice(0, q);
}
