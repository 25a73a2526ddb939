// Calls back when any of the given files changes. Watches each file's
// directory rather than the file, because editors and config management save
// by writing a new file and renaming it over the old one.

import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

export function watchFiles(files: readonly string[], onChange: () => void, debounceMs = 200): () => void {
  const byDir = new Map<string, Set<string>>();
  for (const file of files) {
    const names = byDir.get(dirname(file)) ?? new Set<string>();
    names.add(basename(file));
    byDir.set(dirname(file), names);
  }
  let timer: NodeJS.Timeout | undefined;
  const fire = () => {
    clearTimeout(timer);
    // One save is often several events (truncate, write, rename): act once.
    timer = setTimeout(onChange, debounceMs);
    timer.unref();
  };
  const watchers: FSWatcher[] = [];
  for (const [dir, names] of byDir) {
    try {
      const w = watch(dir, (_event, name) => {
        if (name && names.has(name.toString())) fire();
      });
      w.on('error', () => {});
      w.unref();
      watchers.push(w);
    } catch {
      // A directory we cannot watch only loses automatic reload; SIGHUP still works.
    }
  }
  return () => {
    clearTimeout(timer);
    for (const w of watchers) w.close();
  };
}
