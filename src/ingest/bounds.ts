// What a sender controls is bounded before anything is stored: the event's
// type and id (they become database keys, metric labels and log fields) and
// the payload's nesting depth (every recursive walk over it, from JSON.stringify
// to the matcher, would otherwise be the sender's to overflow).

export interface IngestLimits {
  /** Longest event type, in characters. */
  typeLength: number;
  /** Longest event id, in characters. */
  idLength: number;
  /** Deepest nesting of objects and arrays in a payload. */
  depth: number;
}

export const DEFAULT_LIMITS: IngestLimits = { typeLength: 256, idLength: 256, depth: 64 };

export const limitsSchema = {
  type: 'object',
  default: {},
  additionalProperties: false,
  description: 'Bounds on what a sender controls; beyond them an event is refused with 400 and nothing is stored.',
  properties: {
    typeLength: { type: 'integer', minimum: 1, default: DEFAULT_LIMITS.typeLength, description: 'Longest event type, in characters.' },
    idLength: { type: 'integer', minimum: 1, default: DEFAULT_LIMITS.idLength, description: 'Longest event id, in characters.' },
    depth: { type: 'integer', minimum: 1, maximum: 1000, default: DEFAULT_LIMITS.depth, description: 'Deepest nesting of objects and arrays in a payload.' },
  },
} as const;

// C0 controls, DEL and C1 controls. PostgreSQL refuses NUL in text outright
// (the sender would get 503 on every retry, forever); the rest break logs,
// terminals and header-like uses of the id.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why `value` is not an acceptable event type or id, or undefined when it is. */
export function nameProblem(what: 'type' | 'id', value: string, max: number): string | undefined {
  if (value.length > max) return `event ${what} is ${value.length} characters; at most ${max} are accepted`;
  const bad = CONTROL.exec(value)?.[0];
  if (bad !== undefined) return `event ${what} contains a control character (U+${bad.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')})`;
  return undefined;
}

/**
 * True when JSON `text` nests objects and arrays deeper than `max`. A scan of
 * the text, not of a parsed value: it needs no stack, whatever the depth, and
 * stops at the first level too deep. Brackets inside strings do not count.
 */
export function nestsDeeperThan(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) return true;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
    }
  }
  return false;
}
