/**
 * Watches the policy file for changes by polling its status (fs.watchFile) rather than fs.watch: editors replace files
 * by renaming, Kubernetes swaps a ConfigMap's symlinks, and network file systems send no events, all of which a stat
 * poll sees (it follows the path, not an inode). What changed is decided by the caller (it compares hashes), so a
 * spurious wake-up costs one read.
 */
import { readFileSync, unwatchFile, watchFile, type Stats } from 'node:fs';

/** Starts polling `file` every `intervalMs`; `onChange` runs when its modification time, size or inode moved. Returns stop. */
export function watchPolicyFile(file: string, intervalMs: number, onChange: () => void): () => void {
  const listener = (curr: Stats, prev: Stats) => {
    if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino) onChange();
  };
  // Not persistent: a watcher alone must not keep the process alive after shutdown.
  watchFile(file, { interval: intervalMs, persistent: false }, listener);
  return () => unwatchFile(file, listener);
}

/** The policy file's text, or why it cannot be read (a reload then keeps the policy in force). */
export function readPolicyText(file: string): { text: string } | { readError: string } {
  try {
    return { text: readFileSync(file, 'utf8') };
  } catch (err) {
    return { readError: (err as Error).message };
  }
}
