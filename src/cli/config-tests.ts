// `relay test`: one command, two meanings told apart by the file name.
// EVENT.json is a dry run (src/cli/test-event.ts); FILE.test.yaml and
// `--all [DIR]` run config tests (src/config/tests.ts) with a diff per field.

import { readdir, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { runTestFile, type ConfigLoader, type FileResult, type Mismatch } from '../config/tests.js';
import { processIo, type Io } from './format.js';
import { testEvent, type TestEventOptions } from './test-event.js';

export interface TestCommandOptions extends TestEventOptions {
  /** `--all` (true: config/tests) or `--all DIR`. */
  all?: boolean | string;
}

const TEST_FILE = /\.test\.ya?ml$/;
const DEFAULT_DIR = join('config', 'tests');

export async function testCommand(files: string[], opts: TestCommandOptions, io: Io = processIo): Promise<void> {
  if (opts.all !== undefined && opts.all !== false) {
    if (files.length) throw new Error('give either --all [DIR] or files, not both');
    const dir = opts.all === true ? DEFAULT_DIR : opts.all;
    const found = await findTestFiles(dir);
    if (found.length === 0) throw new Error(`no *.test.yaml files under ${dir}`);
    await runConfigTests(found, opts, io);
    return;
  }
  if (files.length > 0 && files.every((f) => TEST_FILE.test(f))) {
    await runConfigTests(files, opts, io);
    return;
  }
  if (files.length === 1 && !TEST_FILE.test(files[0]!)) return testEvent(files[0]!, opts);
  throw new Error('relay test takes one EVENT.json, or FILE.test.yaml files, or --all [DIR]');
}

export async function runConfigTests(files: string[], opts: Pick<TestCommandOptions, 'config' | 'json'>, io: Io = processIo): Promise<FileResult[]> {
  const load = cachedLoader();
  const results: FileResult[] = [];
  for (const file of files) results.push(await runTestFile(file, opts.config, load));
  io.out(opts.json ? JSON.stringify(results, null, 2) : formatResults(results));
  if (results.some((r) => r.error !== undefined || r.cases.some((c) => !c.passed))) process.exitCode = 1;
  return results;
}

export function formatResults(results: FileResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${shown(r.file)}${r.config ? ` → ${shown(r.config)}` : ''}`);
    if (r.error !== undefined) lines.push(`  ✗ ${r.error.replace(/\n/g, '\n    ')}`);
    for (const c of r.cases) {
      lines.push(`  ${c.passed ? '✓' : '✗'} ${c.name}`);
      for (const m of c.mismatches) lines.push(...formatMismatch(m).map((l) => `      ${l}`));
    }
  }
  const cases = results.flatMap((r) => r.cases);
  const failed = cases.filter((c) => !c.passed).length;
  const broken = results.filter((r) => r.error !== undefined).length;
  lines.push(
    `${cases.length - failed} passed, ${failed} failed${broken ? `, ${broken} file(s) with errors` : ''} (${results.length} file(s))`,
  );
  return lines.join('\n');
}

function formatMismatch(m: Mismatch): string[] {
  const out = [m.what, `  expected: ${show(m.expected)}`, `  actual:   ${show(m.actual)}`];
  if (Array.isArray(m.expected) && Array.isArray(m.actual)) {
    const actual = m.actual as unknown[];
    const missing = m.expected.filter((x) => !actual.includes(x));
    const extra = actual.filter((x) => !(m.expected as unknown[]).includes(x));
    if (missing.length || extra.length) out.push(`  ${[missing.length ? `missing: ${missing.join(', ')}` : '', extra.length ? `unexpected: ${extra.join(', ')}` : ''].filter(Boolean).join('; ')}`);
    else out.push('  same rules, in another order');
  } else if (typeof m.expected === 'string' && typeof m.actual === 'string' && m.what !== 'error') {
    let i = 0;
    while (i < m.expected.length && m.expected[i] === m.actual[i]) i++;
    out.push(`  first difference at character ${i + 1}`);
  }
  return out;
}

// JSON, so a trailing space or a string-vs-number difference is visible.
const show = (value: unknown) => (value === undefined ? '(nothing)' : JSON.stringify(value));
// Relative when under the working directory, as the user typed it; absolute otherwise.
const shown = (path: string) => {
  const rel = relative(process.cwd(), path);
  return rel && !rel.startsWith('..') ? rel : path;
};

async function findTestFiles(path: string): Promise<string[]> {
  const found = await stat(path).catch(() => undefined);
  if (!found) throw new Error(`${path} does not exist`);
  if (found.isFile()) return [path];
  const entries = await readdir(path, { recursive: true });
  return entries.filter((e) => TEST_FILE.test(e)).sort().map((e) => join(path, e));
}

/** Test files sharing a config and env load it once. */
function cachedLoader(): ConfigLoader {
  const cache = new Map<string, Promise<LoadedConfig>>();
  return (path, env) => {
    const key = `${path}\0${JSON.stringify(env)}`;
    let loaded = cache.get(key);
    if (!loaded) cache.set(key, (loaded = loadConfig(path, { env, secrets: 'optional' })));
    return loaded;
  };
}
