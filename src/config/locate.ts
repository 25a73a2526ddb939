// Maps a key path (from ajv or a compile step) to a line and column in the
// YAML file, so every config error points at the text to fix.

import { isMap, isSeq, isScalar, type Document, type LineCounter, type Node } from './yaml.js';
import type { ConfigIssue } from '../errors.js';

export function locate(
  doc: Document,
  lines: LineCounter,
  path: ReadonlyArray<string | number>,
): { line: number; col: number } {
  let node: unknown = doc.contents;
  let offset = (doc.contents as Node | null)?.range?.[0] ?? 0;
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(part));
      if (!pair) break;
      // Point at the key itself: the most useful place for "unknown key" and for the last step.
      offset = (pair.key as Node | null)?.range?.[0] ?? offset;
      node = pair.value;
      if (part === path[path.length - 1] && node === null) break;
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part] as Node | undefined;
      if (!item) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  // The last step lands on the value when there is one: errors about a value point at it.
  const here = (node as Node | null)?.range?.[0];
  if (here !== undefined && path.length > 0 && isScalar(node)) offset = here;
  const pos = lines.linePos(offset);
  return { line: pos.line, col: pos.col };
}

export function placeIssues(
  issues: ConfigIssue[],
  file: string,
  doc: Document,
  lines: LineCounter,
): ConfigIssue[] {
  return issues.map((issue) =>
    issue.line !== undefined ? issue : { ...issue, file, ...locate(doc, lines, issue.path) },
  );
}
