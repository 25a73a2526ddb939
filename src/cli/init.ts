// `relay init`: writes a commented starter relay.config.yaml. Flags win; what
// they leave out is asked on a terminal, and defaults to archivus + log when
// there is none (CI, scripts), so `relay init` never waits on a pipe.

import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { fileURLToPath } from 'node:url';
import { ACTIONS, PROVIDERS, starterConfig } from '../init/template.js';
import { processIo, type Io } from './format.js';

export interface InitOptions {
  /** Comma-separated, as typed after --providers / --actions. */
  providers?: string;
  actions?: string;
  output: string;
  force?: boolean;
}

/** Asks one question on a terminal and returns the answer. */
export type Ask = (question: string) => Promise<string>;

const DEFAULTS = { providers: 'archivus', actions: 'log' };

export async function initCommand(opts: InitOptions, io: Io = processIo, ask: Ask | null = terminalAsk()): Promise<string> {
  const file = resolve(opts.output);
  // Checked before asking, so nobody answers questions for a file that will not be written.
  if (!opts.force && existsSync(file)) throw new Error(`${opts.output} exists; pass --force to overwrite it`);

  const providers = split(opts.providers ?? (await choose(ask, io, 'providers', Object.keys(PROVIDERS), DEFAULTS.providers)));
  const actions = split(opts.actions ?? (await choose(ask, io, 'actions', Object.keys(ACTIONS), DEFAULTS.actions)));
  const { text, required } = starterConfig({ providers, actions, schemaPath: schemaPathFrom(dirname(file)) });

  await mkdir(dirname(file), { recursive: true });
  // `wx` also refuses a file created since the check above.
  await writeFile(file, text, { flag: opts.force ? 'w' : 'wx' });
  io.out(`wrote ${opts.output} (${providers.join(', ')} → ${actions.join(', ')})`);
  io.out(`next: set ${required.join(', ')}, then \`relay validate -c ${opts.output}\` and \`relay serve -c ${opts.output}\``);
  return text;
}

/** A list from a prompt: re-asks until every name is known, the default on an empty answer. */
async function choose(ask: Ask | null, io: Io, what: string, known: string[], fallback: string): Promise<string> {
  if (!ask) return fallback;
  for (;;) {
    const answer = (await ask(`${what} (${known.join(', ')}) [${fallback}]: `)).trim() || fallback;
    const bad = split(answer).filter((x) => !known.includes(x));
    if (bad.length === 0 && split(answer).length > 0) return answer;
    io.err(`unknown ${what}: ${bad.join(', ') || '(none given)'}`);
  }
}

function split(list: string): string[] {
  return [...new Set(list.split(',').map((s) => s.trim()).filter(Boolean))];
}

/** null without a terminal: nobody could answer. */
function terminalAsk(): Ask | null {
  if (!process.stdin.isTTY) return null;
  return async (question) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  };
}

/**
 * The shipped config/relay.schema.json, relative to the new file: inside a
 * clone that is ./config/relay.schema.json, in a project that installed Relay
 * it is under node_modules. Regenerate with `relay schema` for custom plugins.
 */
function schemaPathFrom(dir: string): string {
  let root = dirname(fileURLToPath(import.meta.url));
  // src/cli in a checkout, dist/src/cli once built: the package root is the first dir with package.json.
  while (!existsSync(join(root, 'package.json')) && dirname(root) !== root) root = dirname(root);
  const path = relative(dir, join(root, 'config', 'relay.schema.json')).split('\\').join('/');
  return path.startsWith('.') || path.startsWith('/') ? path : `./${path}`;
}
