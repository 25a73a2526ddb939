// The JSON Schema of relay.config.yaml. The loader validates with it, and
// `relay schema` prints it with every scheme's and plugin's option schema
// folded in: one spec, never written twice.

import type { ActionPlugin, JsonSchema } from '../plugin.js';
import type { Scheme } from '../verify/types.js';
import { conditionSchema } from '../match/condition.js';
import { durationSchema, sizeSchema } from './units.js';
import { allowlistSchema } from '../ingest/allowlist.js';
import { rateLimitSchema } from '../ingest/rate-limit.js';
import { egressSchema } from '../deliver/egress-policy.js';
import { limitsSchema } from '../ingest/bounds.js';
import { URL_TEMPLATE_PATTERN } from '../match/template.js';

// Only `delivery.retry` carries defaults: an action's own `retry` overrides
// just the keys it names, the rest come from `delivery.retry`.
function retrySchema(defaults: boolean) {
  const d = <T>(value: T) => (defaults ? { default: value } : {});
  return {
    type: 'object',
    description: 'Retries with exponential backoff and full jitter.',
    additionalProperties: false,
    properties: {
      attempts: { type: 'integer', minimum: 1, ...d(15), description: 'Total attempts, the first included (default 15: about half an hour of retries on average, an hour at most).' },
      initialDelay: { ...durationSchema, ...d('1s'), description: 'Upper bound of the first backoff; doubles each attempt (default 1s).' },
      maxDelay: { ...durationSchema, ...d('10m'), description: 'Longest wait between attempts (default 10m).' },
    },
  };
}

// A circuit belongs to a target; these settings are the action's, and the
// attempt that trips a target's circuit decides its cool-down.
function circuitSchema(defaults: boolean) {
  const d = <T>(value: T) => (defaults ? ` (default ${String(value)})` : '');
  return {
    description:
      'Circuit breaker per target: after `failures` retryable failures in a row the target gets no deliveries for `cooldown` (doubling up to `maxCooldown`), then one trial. Waiting behind an open circuit spends no attempts. `false` turns it off: only `retry` decides.',
    anyOf: [
      { const: false },
      {
        type: 'object',
        additionalProperties: false,
        properties: {
          failures: { type: 'integer', minimum: 1, description: `Retryable failures in a row that open the circuit${d(5)}.` },
          cooldown: { ...durationSchema, description: `How long an opened circuit holds deliveries back before one trial${d('30s')}.` },
          maxCooldown: { ...durationSchema, description: `The cool-down doubles each time a trial fails, up to this${d('5m')}.` },
        },
      },
    ],
  };
}

const batchSchema = {
  type: 'object',
  description: 'Group events for this action into one delivery (one Slack message, one email, one JSON array).',
  additionalProperties: false,
  required: ['window'],
  properties: {
    window: { ...durationSchema, description: 'How long a batch stays open after its first event.' },
    max: { type: 'integer', minimum: 1, default: 50, description: 'A batch this full is delivered at once.' },
    with: { type: 'object', description: 'Option overrides used for batches, e.g. a summary `text` looping over `events`.' },
  },
};

/** Keys shared by a declared action and an action written in a rule. */
const actionProperties = {
  use: { type: 'string', description: 'A plugin name (log, forward, slack, email, …) or, in a rule, a name declared under `actions:`.' },
  name: { type: 'string', description: 'Key of this action inside its rule; queued deliveries refer to it. Defaults to `use` for declared actions, else `<plugin>~<hash of use and with>`, so an unnamed inline action is a new action when its options change.' },
  // No schema default: a rule's action inherits `enabled` from the declared action it uses.
  enabled: { type: 'boolean', description: 'A disabled action is validated but never runs (default true).' },
  with: { type: 'object', description: "The plugin's options; strings in templated fields are Liquid templates." },
  retry: retrySchema(false),
  circuit: circuitSchema(false),
  timeout: { ...durationSchema, description: 'Abort an attempt after this long (retryable).' },
  concurrency: { type: 'integer', minimum: 1, description: 'Deliveries of this action running at once.' },
  ordering: {
    type: 'string',
    enum: ['none', 'fifo'],
    description:
      '`fifo`: one delivery at a time to this action\'s target, oldest first; a failing one holds the rest back until it is delivered or dead. ' +
      'Costs throughput (one request per round trip). Not with `batch`. Default `none`.',
  },
  batch: batchSchema,
};

const idSpecSchema = {
  'x-expected': 'a JSONPath like $.id, {header: name}, or {hash: true}',
  description: 'Where the value is: a JSONPath into the payload (`$.id`), `{header: name}`, or `{hash: true}` (SHA-256 of the body).',
  anyOf: [
    { type: 'string', pattern: '^\\$' },
    { type: 'object', additionalProperties: false, required: ['header'], properties: { header: { type: 'string' } } },
    { type: 'object', additionalProperties: false, required: ['hash'], properties: { hash: { const: true } } },
  ],
};

const secretProperties = {
  scheme: { type: 'string', description: 'Signature scheme; `none` must be written out to accept unsigned events.' },
  secret: { type: 'string', description: 'The shared secret (use ${ENV_VAR}).' },
  secrets: { type: 'array', items: { type: 'string' }, description: 'Several secrets during a rotation; any one may match.' },
  secretFile: { type: 'string', description: 'A file holding one secret per line (relative to the config file).' },
};

/** Editors flag a template in a URL template's scheme, host or port as the loader will. */
function withUrlTemplates(p: Pick<ActionPlugin, 'options' | 'templates' | 'urls'>): JsonSchema {
  const templated = (p.urls ?? []).filter((f) => (p.templates as readonly string[] | undefined)?.includes(f));
  const props = p.options.properties as Record<string, JsonSchema> | undefined;
  if (!templated.length || !props) return p.options;
  const patched = { ...props };
  for (const f of templated) {
    const prop = patched[f];
    if (prop && !('pattern' in prop)) patched[f] = { ...prop, pattern: URL_TEMPLATE_PATTERN };
  }
  return { ...p.options, properties: patched };
}

export function buildConfigSchema(
  schemes: ReadonlyMap<string, Scheme>,
  plugins: ReadonlyMap<string, Pick<ActionPlugin, 'name' | 'options' | 'templates' | 'urls'>>,
): JsonSchema {
  const schemeNames = [...schemes.keys()];
  const verifyByScheme = [...schemes.values()].map((s) => ({
    if: { properties: { scheme: { const: s.name } }, required: ['scheme'] },
    then: {
      description: s.description,
      properties: { ...secretProperties, ...(s.options.properties as JsonSchema | undefined) },
      additionalProperties: false,
    },
  }));
  const actionByPlugin = [...plugins.values()].map((p) => ({
    if: { properties: { use: { const: p.name } }, required: ['use'] },
    then: { properties: { with: withUrlTemplates(p) } },
  }));
  const action = {
    type: 'object',
    required: ['use'],
    additionalProperties: false,
    properties: actionProperties,
    allOf: actionByPlugin,
  };

  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://relay.dev/schema/relay.config.json',
    title: 'Relay configuration',
    type: 'object',
    additionalProperties: false,
    required: ['sources', 'rules'],
    definitions: { condition: conditionSchema as JsonSchema },
    properties: {
      server: {
        type: 'object',
        default: {},
        additionalProperties: false,
        properties: {
          host: { type: 'string', default: '0.0.0.0', description: 'Address to listen on.' },
          port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080, description: 'Port; the PORT environment variable overrides it.' },
          bodyLimit: { ...sizeSchema, default: '1mb', description: 'Larger bodies get 413.' },
          trustProxy: { type: 'boolean', default: false, description: 'Read the client address from X-Forwarded-For (only behind a proxy you run).' },
          maxBacklog: { type: 'integer', minimum: 1, default: 100000, description: 'Pending deliveries above which ingest answers 503 with Retry-After.' },
          shutdownGrace: { ...durationSchema, default: '8s', description: 'On SIGTERM, how long deliveries in flight may finish before they are put back. Keep it below the stop timeout of what runs Relay (10s for docker stop, 30s for Kubernetes by default) so they are put back before SIGKILL.' },
          admin: {
            type: 'object',
            additionalProperties: false,
            required: ['port'],
            description: 'A second listener for /admin, /ui and /metrics, which the public port then no longer serves.',
            properties: {
              host: { type: 'string', default: '127.0.0.1', description: 'Address of the ops listener (default loopback).' },
              port: { type: 'integer', minimum: 0, maximum: 65535, description: 'Port of the ops listener.' },
            },
          },
          tls: {
            type: 'object',
            additionalProperties: false,
            required: ['cert', 'key'],
            description: 'Serve HTTPS with these PEM files.',
            properties: { cert: { type: 'string' }, key: { type: 'string' } },
          },
        },
      },
      storage: {
        type: 'object',
        default: {},
        additionalProperties: false,
        properties: {
          driver: { enum: ['sqlite', 'postgres'], default: 'sqlite', description: 'sqlite (embedded, default) or postgres (several instances).' },
          path: { type: 'string', default: './data/relay.db', description: 'SQLite file, created on first start.' },
          sync: { enum: ['normal', 'full'], default: 'normal', description: 'normal survives a process crash; full also survives a machine crash.' },
          url: { type: 'string', description: 'PostgreSQL connection URL (driver: postgres), e.g. postgres://relay@db:5432/relay.' },
          schema: { type: 'string', pattern: '^[a-z_][a-z0-9_]*$', description: 'PostgreSQL schema for Relay\'s tables (created if missing); default: the search_path.' },
          retention: { ...durationSchema, default: '7d', description: 'Finished events older than this are pruned.' },
          commitTimeout: { ...durationSchema, default: '5s', description: 'How long an incoming event (or a recorded attempt) waits for its commit; past it the sender gets 503 with Retry-After and, on PostgreSQL, the stuck connection is discarded. Keep it under your senders\' timeouts.' },
          connectTimeout: { ...durationSchema, default: '5s', description: 'PostgreSQL: opening a connection, and waiting for a free one in the pool.' },
          queryTimeout: { ...durationSchema, default: '30s', description: 'PostgreSQL: longest wait for one statement\'s answer; also the server\'s statement_timeout and idle_in_transaction_session_timeout.' },
          idleTimeout: { ...durationSchema, default: '10s', description: 'PostgreSQL: an idle pooled connection is closed after this long.' },
          keepAlive: {
            'x-expected': 'a duration like 10s, or false',
            description: 'PostgreSQL: TCP keepalive, the idle time before the first probe (finds a database that vanished without closing the connection); false turns it off.',
            default: '10s',
            anyOf: [...durationSchema.anyOf, { const: false }],
          },
        },
      },
      delivery: {
        type: 'object',
        default: {},
        additionalProperties: false,
        properties: {
          concurrency: { type: 'integer', minimum: 1, default: 16, description: 'Deliveries running at once, all actions together.' },
          timeout: { ...durationSchema, default: '10s', description: 'Default timeout of one attempt.' },
          pace: {
            ...durationSchema,
            default: '1s',
            description:
              "While this instance's deliveries are behind, an acknowledgement waits up to this long for as many deliveries to go out as its event planned; the event is stored first. 0 answers at once and lets the backlog grow (up to server.maxBacklog).",
          },
          lease: { ...durationSchema, default: '60s', description: 'How long a claimed delivery is reserved for this instance; if the instance dies, another takes it over after this long. Longer than any action timeout.' },
          retry: { ...retrySchema(true), default: {} },
          circuit: circuitSchema(true),
        },
      },
      log: {
        type: 'object',
        default: {},
        additionalProperties: false,
        properties: {
          level: { enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], default: 'info' },
        },
      },
      egress: egressSchema,
      limits: limitsSchema,
      plugins: {
        type: 'array',
        default: [],
        items: { type: 'string' },
        description: 'Custom action plugins: paths (relative to this file, .ts or .js) or npm package names.',
      },
      sources: {
        type: 'object',
        description: 'Where events come in: one entry per URL path.',
        minProperties: 1,
        additionalProperties: {
          type: 'object',
          additionalProperties: false,
          required: ['path', 'verify'],
          properties: {
            path: { type: 'string', pattern: '^/', description: 'URL path the provider posts to.' },
            verify: {
              type: 'object',
              required: ['scheme'],
              properties: { scheme: { enum: schemeNames } },
              allOf: verifyByScheme,
            },
            event: {
              type: 'object',
              additionalProperties: false,
              description: "Where the event's type and id are; defaults come from the scheme.",
              properties: { type: idSpecSchema, id: idSpecSchema },
            },
            allowlist: allowlistSchema,
            rateLimit: rateLimitSchema,
            dedupWindow: {
              ...durationSchema,
              description: 'Identical bodies without an id (or with id {hash: true}) within this window are one event; later, a new one (default 1h).',
            },
          },
        },
      },
      actions: {
        type: 'object',
        default: {},
        description: 'Actions declared once and used by name from rules.',
        additionalProperties: action,
      },
      rules: {
        type: 'array',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['name', 'on', 'actions'],
          properties: {
            name: { type: 'string', minLength: 1 },
            on: {
              description: 'Event types: exact names or globs (`document.*`, `**`).',
              anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }],
            },
            source: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
            when: {
              description: 'Conditions on the payload; a list means all.',
              anyOf: [{ $ref: '#/definitions/condition' }, { type: 'array', items: { $ref: '#/definitions/condition' } }],
            },
            stop: { type: 'boolean', default: false, description: 'Later rules are not evaluated when this one matches.' },
            actions: { type: 'array', minItems: 1, items: action },
          },
        },
      },
    },
  };
}

// The full schema folds plugin option schemas into `with:`; the structural
// pass leaves those to compileActions so each error is reported once.
export function structuralSchema(schema: JsonSchema): JsonSchema {
  const copy = structuredClone(schema);
  const props = copy.properties as Record<string, JsonSchema>;
  const actionsSchema = props.actions as JsonSchema;
  const action = actionsSchema.additionalProperties as JsonSchema;
  delete action.allOf;
  const rules = props.rules as JsonSchema;
  ((rules.items as JsonSchema).properties as Record<string, JsonSchema>).actions = {
    type: 'array',
    minItems: 1,
    items: action,
  };
  return copy;
}
