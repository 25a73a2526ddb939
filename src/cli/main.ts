// The `relay` command. Each subcommand lives in its own file; this one only
// declares them, so `relay --help` and the code read the same.

import { Command } from 'commander';
import { serve } from './serve.js';
import { validate } from './validate.js';
import { testEvent } from './test-event.js';
import { docs } from './docs.js';
import { migrate } from './migrate.js';
import { eventsCommand, showCommand, type EventsOptions } from './events.js';
import { replayCommand, type ReplayOptions } from './replay.js';

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

const events = program
  .command('events')
  .description('recent events, newest first, and targets that keep failing')
  .option(...configOption)
  .option('--status <status>', 'pending, delivered, failed, dead or unmatched')
  .option('-s, --source <name>', 'only events from this source')
  .option('-t, --type <type>', 'only events of this type')
  .option('--since <time>', 'received at or after: ISO time, or an age like 15m, 2h, 7d')
  .option('--limit <n>', 'at most this many, 1 to 1000 (default 50)')
  .option('--before <seq>', 'only events older than this seq: the next page')
  .option('--json', 'print JSON')
  .action(async (opts: EventsOptions) => eventsCommand(opts));

events
  .command('show')
  .description('one event: payload, headers (secrets masked), matched rules, each delivery with all its attempts')
  .argument('<id>', 'event id or seq')
  .option('-c, --config <file>', 'configuration file (default: the one given to `events`, or relay.config.yaml)')
  .option('--json', 'print JSON')
  .action(async (id: string, opts: { config?: string; json?: boolean }) =>
    showCommand(id, { config: opts.config ?? events.opts<EventsOptions>().config, json: opts.json ?? events.opts<EventsOptions>().json }),
  );

program
  .command('replay')
  .description('make deliveries due now with a fresh attempt budget; criteria combine (AND)')
  .argument('[ids...]', 'event ids or seqs: every delivery of those events')
  .option(...configOption)
  .option('--dead', 'only dead deliveries (every dead letter when no ids or --since)')
  .option('--since <time>', 'only events received at or after: ISO time, or an age like 15m, 2h, 7d')
  .option('--rule <name>', 'only deliveries of this rule')
  .option('--json', 'print the summary as JSON')
  .action(async (ids: string[], opts: ReplayOptions) => replayCommand(ids, opts));

program
  .command('migrate')
  .description('create or upgrade the store schema without starting the server (deploys that migrate first)')
  .option(...configOption)
  .action(async (opts: { config: string }) => migrate(opts.config));

program
  .command('docs')
  .description('print generated reference docs (docs/plugins.md comes from `relay docs plugins`)')
  .argument('<topic>', 'plugins')
  .action((topic: string) => docs(topic));

await program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`relay: ${(err as Error).message}`);
  process.exit(1);
});
