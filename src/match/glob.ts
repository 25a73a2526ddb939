// Event-type globs for `on:`. Types are dot-separated (`document.processed`,
// `pull_request.opened`), so `*` stays inside one segment and `**` crosses
// segments, like path globs.

/** True when `pattern` needs glob matching rather than an exact Map lookup. */
export function isGlob(pattern: string): boolean {
  return pattern.includes('*');
}

/** A lone `*` or `**` is "every type"; treated apart so it also matches dotted types. */
export function isMatchAll(pattern: string): boolean {
  return pattern === '*' || pattern === '**';
}

/**
 * The regular expression source of one glob, unanchored; also valid as a
 * PostgreSQL regular expression, so the store filters by the same rules.
 */
export function globRegExpSource(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*') {
      if (pattern[i + 1] === '*') {
        out += '.*';
        i++;
      } else {
        out += '[^.]*';
      }
    } else {
      out += ch.replace(/[\\^$.|?+()[\]{}]/g, '\\$&');
    }
  }
  return out;
}

/**
 * One predicate for all of a rule's globs: a single anchored alternation, so
 * a rule with several globs costs one regex test per (uncached) type.
 */
export function compileGlobs(patterns: readonly string[]): (type: string) => boolean {
  if (patterns.some(isMatchAll)) return () => true;
  const re = new RegExp(`^(?:${patterns.map(globRegExpSource).join('|')})$`, 'su');
  return (type) => re.test(type);
}
