// The `relay` command. Each subcommand lives in its own file; this one only
// declares them, so `relay --help` and the code read the same.

import { Command } from 'commander';
import { serve } from './serve.js';
import { validate } from './validate.js';
import { testEvent } from './test-event.js';
import { docs } from './docs.js';

const program = new Command('relay')
  .description('Rules-driven webhook relay: verify, match, queue, deliver.')
  .showHelpAfterError();

const configOption = ['-c, --config <file>', 'configuration file', 'relay.config.yaml'] as const;

program
  .command('serve')
  .description('run the service')
  .option(...configOption)
  .action(async (opts: { config: string }) => serve(opts.config));

program
  .command('validate')
  .description('check a configuration; prints OK or every error with file:line:col')
  .option(...configOption)
  .action(async (opts: { config: string }) => validate(opts.config));

program
  .command('test')
  .description('dry run: which rules an event matches, why others do not, and the rendered actions; sends nothing')
  .argument('<event>', 'JSON file with the event body')
  .option(...configOption)
  .option('-s, --source <name>', 'source the event comes from (needed when there are several)')
  .option('-H, --header <k:v>', 'request header, repeatable', (v: string, all: string[]) => [...all, v], [] as string[])
  .option('--json', 'print JSON')
  .action(async (file: string, opts: { config: string; source?: string; header: string[]; json?: boolean }) =>
    testEvent(file, opts),
  );

program
  .command('docs')
  .description('print generated reference docs (docs/plugins.md comes from `relay docs plugins`)')
  .argument('<topic>', 'plugins')
  .action((topic: string) => docs(topic));

await program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`relay: ${(err as Error).message}`);
  process.exit(1);
});
