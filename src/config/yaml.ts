// The yaml package, required rather than imported: an ES import of this
// CommonJS package has Node's lexer scan it for export names first, time
// every command that reads a config paid at start-up.

import { createRequire } from 'node:module';
import type * as Yaml from 'yaml';

const yaml = createRequire(import.meta.url)('yaml') as typeof Yaml;

export const { isMap, isScalar, isSeq, parse, parseDocument, LineCounter } = yaml;
export type LineCounter = Yaml.LineCounter;
export type { Document, Node } from 'yaml';
