// The text of a starter relay.config.yaml (`relay init`). Written as text,
// not serialised from an object, because the comments are half its value.
// Every secret is an environment variable; every action but `log` stays off
// until its variables are set, so the file loads as soon as the secrets exist.

export interface StarterOptions {
  providers: readonly string[];
  actions: readonly string[];
  /** For the `# yaml-language-server: $schema=` line, relative to the written file. */
  schemaPath: string;
}

export interface Starter {
  text: string;
  /** Variables the file references without a default: it does not load until they are set. */
  required: string[];
}

interface Provider {
  /** Environment variable holding the secret. */
  secret: string;
  /** What the scheme checks, for the comment beside `scheme:`. */
  checks: string;
  /** Extra `verify:` lines (generic schemes name their header). */
  verify?: string[];
  /** `event:` for schemes that do not know where type and id are. */
  event?: string;
  /** Event types to suggest for a narrower `on:`; none for generic schemes. */
  types?: string;
  /** One line about an event, as a Liquid template. */
  summary: string;
}

const quote = (s: string) => JSON.stringify(s);

export const PROVIDERS: Readonly<Record<string, Provider>> = {
  archivus: {
    secret: 'ARCHIVUS_WEBHOOK_SECRET',
    checks: 'X-Archivus-Signature: sha256=<hex HMAC-SHA256 of the raw body>',
    types: 'document.processed, document.failed, document.uploaded, chat.message.created',
    summary: 'Archivus {{ event.type }}: document {{ payload.data.document_id }}',
  },
  github: {
    secret: 'GITHUB_WEBHOOK_SECRET',
    checks: 'X-Hub-Signature-256; type is X-GitHub-Event + .action',
    types: 'push, pull_request.opened, issues.*',
    summary: 'GitHub {{ event.type }} on {{ payload.repository.full_name }}',
  },
  stripe: {
    secret: 'STRIPE_WEBHOOK_SECRET',
    checks: 'Stripe-Signature (t=..,v1=..), timestamps within 300 s; the secret is whsec_...',
    types: 'payment_intent.succeeded, invoice.*, customer.subscription.*',
    summary: 'Stripe {{ event.type }} {{ payload.data.object.id }}',
  },
  slack: {
    secret: 'SLACK_SIGNING_SECRET',
    checks: 'X-Slack-Signature (v0) + X-Slack-Request-Timestamp; answers url_verification',
    types: 'app_mention, message, reaction_added',
    summary: 'Slack {{ event.type }} from {{ payload.event.user }}',
  },
  shopify: {
    secret: 'SHOPIFY_WEBHOOK_SECRET',
    checks: 'X-Shopify-Hmac-Sha256; type is X-Shopify-Topic',
    types: 'orders/create, orders/paid, products/*',
    summary: 'Shopify {{ event.type }} {{ payload.id }}',
  },
  'standard-webhooks': {
    secret: 'STANDARD_WEBHOOKS_SECRET',
    checks: 'webhook-id/-timestamp/-signature (or svix-*); the secret is whsec_<base64>',
    summary: '{{ event.type }} {{ event.id }}',
  },
  hmac: {
    secret: 'WEBHOOK_HMAC_SECRET',
    checks: 'any HMAC in one header: set it to what your sender does',
    verify: ['header: X-Signature', 'prefix: "sha256="', 'algorithm: sha256   # sha1, sha256, sha512', 'encoding: hex       # or base64'],
    event: '{ type: $.type, id: $.id }',
    summary: '{{ event.type }} {{ event.id }}',
  },
  bearer: {
    secret: 'WEBHOOK_TOKEN',
    checks: 'Authorization: Bearer <token>',
    event: '{ type: $.type, id: $.id }',
    summary: '{{ event.type }} {{ event.id }}',
  },
  basic: {
    secret: 'WEBHOOK_BASIC_AUTH',
    checks: 'Authorization: Basic; the secret is user:pass',
    event: '{ type: $.type, id: $.id }',
    summary: '{{ event.type }} {{ event.id }}',
  },
};

interface Action {
  /** Name under `actions:`; none for `log`, which needs no settings. */
  declared?: string;
  declaration?: string[];
  /** The `- use:` entry in a rule, given the provider's summary. */
  use(summary: string): string;
}

export const ACTIONS: Readonly<Record<string, Action>> = {
  slack: {
    declared: 'team-slack',
    declaration: [
      '# Off until SLACK_ENABLED=true and SLACK_WEBHOOK_URL is set.',
      'team-slack:',
      '  use: slack',
      '  enabled: ${SLACK_ENABLED:-false}',
      '  with:',
      '    url: ${SLACK_WEBHOOK_URL:-https://hooks.slack.com/services/T000/B000/XXXX}',
      `    text: ${quote('{{ event.source }}: {{ event.type }} {{ event.id }}')}`,
    ],
    use: (summary) => `- use: team-slack\n  with: { text: ${quote(summary)} }   # overrides the declared text`,
  },
  email: {
    declared: 'ops-email',
    declaration: [
      '# Off until EMAIL_ENABLED=true and the SMTP variables are set.',
      'ops-email:',
      '  use: email',
      '  enabled: ${EMAIL_ENABLED:-false}',
      '  with:',
      '    smtp:',
      '      host: ${SMTP_HOST:-localhost}',
      '      port: ${SMTP_PORT:-587}',
      '      # auth: { user: relay, pass: "${SMTP_PASSWORD}" }',
      '    from: ${ALERT_FROM:-relay@example.com}',
      '    to: ${ALERT_TO:-ops@example.com}',
      `    subject: ${quote('{{ event.source }}: {{ event.type }}')}`,
      `    text: ${quote('Event {{ event.id }} ({{ event.type }}) from {{ event.source }} at {{ event.receivedAt }}\n\n{{ payload | json }}')}`,
      '  # batch: { window: 5m, max: 50 }   # one email per 5 minutes instead of one per event',
    ],
    use: (summary) => `- use: ops-email\n  with: { subject: ${quote(summary)} }`,
  },
  forward: {
    declared: 'downstream',
    declaration: [
      '# Off until FORWARD_ENABLED=true and FORWARD_URL is set. Sends the original body',
      '# and headers (provider signatures removed, x-relay-event-id added).',
      'downstream:',
      '  use: forward',
      '  enabled: ${FORWARD_ENABLED:-false}',
      '  with:',
      '    url: ${FORWARD_URL:-http://127.0.0.1:9000/events}',
      '  retry: { attempts: 15, initialDelay: 1s, maxDelay: 10m }   # then dead: `relay replay --dead`',
    ],
    use: () => '- use: downstream',
  },
  log: {
    use: (summary) => `- use: log                     # one JSON line in Relay's log\n  with: { message: ${quote(summary)} }`,
  },
};

export function starterConfig(options: StarterOptions): Starter {
  const { providers, actions } = options;
  if (providers.length === 0) throw new Error('choose at least one provider');
  if (actions.length === 0) throw new Error('choose at least one action');
  const unknown = (list: readonly string[], known: object, what: string) => {
    const bad = list.filter((x) => !Object.hasOwn(known, x));
    if (bad.length) throw new Error(`unknown ${what} ${bad.join(', ')} (known: ${Object.keys(known).join(', ')})`);
  };
  unknown(providers, PROVIDERS, 'provider');
  unknown(actions, ACTIONS, 'action');

  const indent = (text: string, by: string) => text.replace(/^(?=.)/gm, by);
  const out: string[] = [
    `# yaml-language-server: $schema=${options.schemaPath}`,
    '#',
    `# Relay configuration written by \`relay init\` (${providers.join(', ')} → ${actions.join(', ')}).`,
    '# Check it with `relay validate`; dry-run an event with `relay test event.json --source NAME`;',
    '# post a signed one to a running Relay with `relay send event.json --source NAME`.',
    '# ${VAR} and ${VAR:-default} are read from the environment.',
    '',
    'server:',
    '  port: 8080              # the PORT environment variable overrides it',
    '',
    'storage:',
    '  driver: sqlite          # embedded; `postgres` (with url:) for several instances',
    '  path: ./data/relay.db',
    '  retention: 7d',
    '',
    'sources:',
  ];
  for (const name of providers) {
    const p = PROVIDERS[name]!;
    out.push(`  ${name}:`, `    path: /webhooks/${name}`, '    verify:', `      scheme: ${name}   # ${p.checks}`);
    out.push(...(p.verify ?? []).map((line) => `      ${line}`));
    out.push(`      secrets: [${quote(`\${${p.secret}}`)}]   # during a rotation list both: [new, old]`);
    if (p.event) out.push(`    event: ${p.event}`);
  }

  const declared = actions.map((a) => ACTIONS[a]!).filter((a) => a.declaration);
  if (declared.length) {
    out.push('', '# Declared once, used by name from rules (a rule may override `with:` keys).', 'actions:');
    for (const a of declared) out.push(indent(a.declaration!.join('\n'), '  '), '');
    out.pop();
  }

  out.push('', '# Every matching rule runs, in order; `stop: true` ends the list for an event.', 'rules:');
  for (const name of providers) {
    const p = PROVIDERS[name]!;
    const types = p.types ? `e.g. ${p.types}` : 'exact types or globs like invoice.*';
    out.push(
      `  # Every ${name} event. Narrow it with on: (${types})`,
      '  # and conditions on the payload: when: { path: $.data.status, equals: failed }',
      `  - name: ${name}-events`,
      '    on: "**"',
      `    source: ${name}`,
      '    actions:',
      ...actions.map((a) => indent(ACTIONS[a]!.use(p.summary), '      ')),
      '',
    );
  }
  out.pop();
  const required = providers.map((name) => PROVIDERS[name]!.secret);
  return { text: `${out.join('\n')}\n`, required };
}
