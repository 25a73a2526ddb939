// The `relay` command. Each subcommand lives in its own file; this one only
// declares them, so `relay --help` and the code read the same.

//
// Each subcommand's module is imported when that command runs, not before:
// `relay --help` then loads commander alone, and `relay validate` none of the
// server, the store drivers or the plugins' clients (about 4× faster to start).

import { Command } from 'commander';
import type { SendOptions } from './send.js';
import type { InitOptions } from './init.js';
import type { TestCommandOptions } from './config-tests.js';
import type { EventsOptions } from './events.js';
import type { ReplayOptions } from './replay.js';
import type { ListenOptions } from './listen.js';
import type { InitPluginOptions } from './init-plugin.js';
import { packageVersion } from './version.js';

const program = new Command('relay')
  .description('Rules-driven webhook relay: verify, match, queue, deliver.')
  .version(packageVersion(), '-V, --version', 'print the version')
  .showHelpAfterError();

// RELAY_CONFIG names the config once for every command (a container, a shell profile).
const configOption = ['-c, --config <file>', 'configuration file (default: $RELAY_CONFIG, or relay.config.yaml)', process.env.RELAY_CONFIG || 'relay.config.yaml'] as const;

program
  .command('serve')
  .description('run the service')
  .option(...configOption)
  .action(async (opts: { config: string }) => (await import('./serve.js')).serve(opts.config));

program
  .command('validate')
  .description('check a configuration; prints OK or every error with file:line:col')
  .option(...configOption)
  .action(async (opts: { config: string }) => (await import('./validate.js')).validate(opts.config));

program
  .command('test')
  .description('dry run of EVENT.json (which rules match, why others do not, rendered actions), or config tests from *.test.yaml files; sends nothing')
  .argument('[files...]', 'one event JSON file, or *.test.yaml files')
  .option(...configOption)
  .option('--all [dir]', 'run every *.test.yaml under config/tests/ (or DIR); exit code 1 on a mismatch')
  .option('-s, --source <name>', 'source the event comes from (needed when there are several)')
  .option('-t, --type <type>', 'event type, for sources that read it from a header (GitHub pull_request.opened, Shopify orders/create)')
  .option('-H, --header <k:v>', 'request header, repeatable; replaces one --type would set', (v: string, all: string[]) => [...all, v], [] as string[])
  .option('--json', 'print JSON')
  .action(async (files: string[], opts: TestCommandOptions) => (await import('./config-tests.js')).testCommand(files, opts));

program
  .command('send')
  .description('sign an event the way its source expects and POST it to a running relay; prints the status and the event id')
  .argument('<event>', 'JSON file with the event body (sent byte for byte)')
  .option(...configOption)
  .option('-s, --source <name>', 'source to sign for (needed when there are several)')
  .option('--url <url>', 'where to post (default: http://127.0.0.1:<port><source path>; PORT honoured)')
  .option('-t, --type <type>', 'event type, for sources that read it from a header (GitHub pull_request.opened, Shopify orders/create)')
  .option('-H, --header <k:v>', 'extra request header, repeatable; replaces one relay send would set', (v: string, all: string[]) => [...all, v], [] as string[])
  .action(async (file: string, opts: SendOptions) => {
    await (await import('./send.js')).sendCommand(file, opts);
  });

const init = program
  .command('init')
  .description('write a commented starter relay.config.yaml; asks on a terminal for what the flags leave out')
  .option('--providers <list>', 'comma-separated: archivus, github, stripe, slack, shopify, standard-webhooks, hmac, bearer, basic (default archivus)')
  .option('--actions <list>', 'comma-separated: slack, email, forward, log (default log)')
  .option('-o, --output <file>', 'file to write', 'relay.config.yaml')
  .option('--force', 'overwrite the file if it exists')
  .action(async (opts: InitOptions) => {
    await (await import('./init.js')).initCommand(opts);
  });

init
  .command('plugin')
  .description('write plugins/NAME/index.ts, an action plugin that works outside the clone (its import of relay-webhooks resolves to this Relay)')
  .argument('<name>', 'the plugin name rules will write after use:')
  .option('--dir <dir>', 'folder to write (default plugins/NAME)')
  .option('--force', 'overwrite index.ts if it exists')
  .action(async (name: string, opts: InitPluginOptions) => {
    await (await import('./init-plugin.js')).initPluginCommand(name, opts);
  });

program
  .command('schema')
  .description('print the JSON Schema of relay.config.yaml for editors (config/relay.schema.json is its output)')
  .option('-c, --config <file>', "include this config's custom plugins")
  .action(async (opts: { config?: string }) => (await import('./schema.js')).schemaCommand(opts));

const events = program
  .command('events')
  .description('recent events, newest first, and targets that keep failing')
  .option(...configOption)
  .option('--status <status>', 'pending, delivered, failed, dead, unmatched, or off (matched, every action disabled)')
  .option('-s, --source <name>', 'only events from this source')
  .option('-t, --type <type>', 'only events of this type')
  .option('--since <time>', 'received at or after: ISO time, or an age like 15m, 2h, 7d')
  .option('--limit <n>', 'at most this many, 1 to 1000 (default 50)')
  .option('--before <seq>', 'only events older than this seq: the next page')
  .option('--json', 'print JSON')
  .action(async (opts: EventsOptions) => (await import('./events.js')).eventsCommand(opts));

events
  .command('show')
  .description('one event: payload, headers (secrets masked), matched rules, each delivery with all its attempts')
  .argument('<id>', 'the event: its id (or a unique prefix), SOURCE/ID when two sources share an id, or #SEQ')
  .option('-c, --config <file>', 'configuration file (default: the one given to `events`, $RELAY_CONFIG, or relay.config.yaml)')
  .option('--json', 'print JSON')
  .action(async (id: string, opts: { config?: string; json?: boolean }) =>
    (await import('./events.js')).showCommand(id, { config: opts.config ?? events.opts<EventsOptions>().config, json: opts.json ?? events.opts<EventsOptions>().json }),
  );

program
  .command('replay')
  .description('make deliveries due now with a fresh attempt budget; criteria combine (AND)')
  .argument('[ids...]', 'events as for events show (ID, SOURCE/ID, #SEQ): every delivery of those events')
  .option(...configOption)
  .option('--dead', 'only dead deliveries (every dead letter when no ids or --since)')
  .option('--since <time>', 'only events received at or after: ISO time, or an age like 15m, 2h, 7d')
  .option('--rule <name>', 'only deliveries of this rule')
  .option('--json', 'print the summary as JSON')
  .action(async (ids: string[], opts: ReplayOptions) => (await import('./replay.js')).replayCommand(ids, opts));

program
  .command('listen')
  .description("replay a deployed relay's events, live, to a local URL (no tunnel); token from RELAY_READ_TOKEN or RELAY_ADMIN_TOKEN")
  .requiredOption('--from <url>', 'the deployed relay, e.g. https://relay.example.com')
  .requiredOption('--to <url>', 'where to POST each event, e.g. http://localhost:3000/webhooks')
  .option('-s, --source <name>', 'only events from this source')
  .option('--rule <name>', 'only events this rule matched')
  .option('--after <seq>', 'start after this event seq (resume an earlier session) instead of with the next event')
  .action(async (opts: ListenOptions) => (await import('./listen.js')).listenCommand(opts));

program
  .command('migrate')
  .description('create or upgrade the store schema without starting the server (deploys that migrate first)')
  .option(...configOption)
  .action(async (opts: { config: string }) => (await import('./migrate.js')).migrate(opts.config));

program
  .command('docs')
  .description('print generated reference docs (docs/plugins.md comes from `relay docs plugins`)')
  .argument('<topic>', 'plugins')
  .action(async (topic: string) => (await import('./docs.js')).docs(topic));

await program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`relay: ${(err as Error).message}`);
  process.exit(1);
});
