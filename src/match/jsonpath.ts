// JSONPath for conditions: RFC 9535 syntax from the library, with the
// common simple paths walked here (see compileJsonPath), and parse errors
// said in words.

import { query } from 'jsonpath-rfc9535';
import parseJsonPath, { type JsonPathQuery } from 'jsonpath-rfc9535/parser';
import type { JsonValue } from '../plugin.js';

type Pred = (node: unknown) => boolean;

// ---- JSONPath ---------------------------------------------------------------

/** Calls `visit` on each selected node until it returns true; says whether one did. */
export type Select = (root: unknown, visit: Pred) => boolean;
/** One selector of a segment: a member name, an array index, or `*` (null). */
type Key = string | number | null;
type AstNode = JsonPathQuery['segments'][number]['node'];

const MISSING: unique symbol = Symbol('missing');

export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

// RFC 9535: a name selects an own member of an object, an index an element of
// an array (negative counts from the end); anything else selects nothing.
function child(node: unknown, k: string | number): unknown {
  if (typeof k === 'string') {
    return isObject(node) && Object.hasOwn(node, k) ? node[k] : MISSING;
  }
  if (!Array.isArray(node)) return MISSING;
  const i = k < 0 ? node.length + k : k;
  return i >= 0 && i < node.length ? node[i] : MISSING;
}

function walk(node: unknown, steps: Key[][], from: number, visit: Pred): boolean {
  for (let i = from; i < steps.length; i++) {
    const keys = steps[i] as Key[];
    const only = keys[0] as Key;
    // The common case (`$.data.x[0]`): one node in, at most one out, no recursion.
    if (keys.length === 1 && only !== null) {
      node = child(node, only);
      if (node === MISSING) return false;
      continue;
    }
    for (const k of keys) {
      if (k !== null) {
        const c = child(node, k);
        if (c !== MISSING && walk(c, steps, i + 1, visit)) return true;
      } else if (node !== null && typeof node === 'object') {
        for (const c of Array.isArray(node) ? node : Object.values(node)) if (walk(c, steps, i + 1, visit)) return true;
      }
    }
    return false;
  }
  return visit(node);
}

function simpleKeys(node: AstNode): Key[] | undefined {
  if (node.type === 'MemberNameShorthand') return [node.value];
  if (node.type === 'WildcardSelector') return [null];
  const out: Key[] = [];
  for (const s of node.selectors) {
    if (s.type === 'NameSelector' || s.type === 'IndexSelector') out.push(s.value);
    else if (s.type === 'WildcardSelector') out.push(null);
    else return undefined;
  }
  return out;
}

/**
 * Parses with the library (so the syntax is exactly RFC 9535's) and throws on
 * a bad path. The library's public API re-parses on every query (~3-10 µs),
 * too slow for 50 leaves per event, so paths made of names, indexes and
 * wildcards (nearly all real ones) are walked here from the parsed AST;
 * filters, slices and `..` are handed to the library per event.
 */
export function compileJsonPath(source: string): Select {
  const ast = parseJsonPath(source);
  const steps: Key[][] = [];
  for (const seg of ast.segments) {
    const keys = seg.type === 'ChildSegment' ? simpleKeys(seg.node) : undefined;
    if (!keys) return librarySelect(source);
    steps.push(keys);
  }
  return (root, visit) => root !== undefined && walk(root, steps, 0, visit);
}

function librarySelect(source: string): Select {
  return (root, visit) => {
    if (root === undefined) return false;
    let nodes: unknown[];
    try {
      nodes = query(root as JsonValue, source);
    } catch {
      return false;
    }
    for (const n of nodes) if (visit(n)) return true;
    return false;
  };
}
/**
 * The parser's message lists character classes (`Expected "*", [A-Z_a-z\x80-…]`);
 * say where it went wrong and what a JSONPath looks like instead.
 */
export function jsonPathProblem(source: string, err: unknown): string {
  const found = /but "(.+?)" found/.exec((err as Error).message)?.[1];
  const end = /but end of input found/.test((err as Error).message);
  const at = found !== undefined ? source.indexOf(found, 1) : -1;
  const where = end ? ': it ends too early' : found !== undefined ? `: unexpected "${found}"${at >= 0 ? ` at character ${at + 1}` : ''}` : '';
  return `invalid JSONPath ${JSON.stringify(source)}${where} (a JSONPath looks like $.data.id, $.items[0].name or $["a key"])`;
}


