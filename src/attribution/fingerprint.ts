import { createHash } from 'node:crypto';

/**
 * Groups blocks with the same cause: the culprit's function and file plus the route (or
 * job, or kind). Line numbers and paths of one request are left out on purpose, so the
 * fingerprint survives edits elsewhere in the file, restarts and hosts.
 */
export function fingerprint(culprit: { function: string; file: string } | null, where: string | null): string {
  const parts = [culprit?.function ?? '', culprit?.file ?? '', where ?? ''];
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 16);
}
