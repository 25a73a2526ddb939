// "did you mean": the closest known name to a typo, by edit distance, only
// when it is close enough to be the likely intent.

/** Damerau-free Levenshtein distance; names are short, so O(n·m) is fine. */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** The closest of `known` to `name`, or undefined when none is within a third of its length (at least 1, at most 3 edits). */
export function closest(name: string, known: Iterable<string>): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(name.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  const all = [...known];
  for (const k of all) {
    const d = distance(name.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  if (bestDistance <= limit) return best;
  // `warning` for `warn`: a known name the typo starts with (or the reverse).
  const lower = name.toLowerCase();
  return all.find((k) => k.length >= 3 && (lower.startsWith(k.toLowerCase()) || k.toLowerCase().startsWith(lower)) && lower.length >= 3);
}

/** `; did you mean "forward"?`, or an empty string. */
export function didYouMean(name: string, known: Iterable<string>): string {
  const match = closest(name, known);
  return match === undefined ? '' : `; did you mean "${match}"?`;
}
