// The one list of headers that carry credentials or signatures. Everything
// that must not show or pass them on uses it: log redaction, masking in
// `relay events show` and the dashboard, and the forward action's dropped
// headers. What one of them hides, the others hide too.

/** The headers providers put their signatures (or shared tokens) in. */
export const SIGNATURE_HEADERS: readonly string[] = [
  'x-archivus-signature',
  'x-hub-signature', // GitHub (legacy sha1), Gitea, Bitbucket
  'x-hub-signature-256',
  'stripe-signature',
  'x-slack-signature',
  'x-shopify-hmac-sha256',
  'webhook-signature', // Standard Webhooks
  'svix-signature',
  'x-signature', // the generic `hmac` scheme's usual header
  'x-webhook-signature',
  'x-gitlab-token',
  'x-twilio-signature',
  'x-signature-ed25519', // Discord interactions
  'x-relay-signature', // a previous Relay hop
];

/** The timestamps signed together with those signatures. */
export const SIGNED_TIMESTAMP_HEADERS: readonly string[] = [
  'x-slack-request-timestamp',
  'webhook-timestamp',
  'svix-timestamp',
  'x-signature-timestamp',
];

/** Credentials in common use, meant for whoever the request was sent to. */
export const CREDENTIAL_HEADERS: readonly string[] = [
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
  'x-api-key',
  'api-key',
  'x-auth-token',
  'x-access-token',
  'x-refresh-token',
  'x-session-token',
  'x-csrf-token',
  'x-xsrf-token',
  'x-amz-security-token',
  'x-goog-api-key',
  'x-functions-key', // Azure Functions
  'ocp-apim-subscription-key', // Azure API Management
  'private-token', // GitLab API
  'x-vault-token',
];

/** Every name above, lower-case. */
export const SENSITIVE_HEADERS: readonly string[] = [...CREDENTIAL_HEADERS, ...SIGNATURE_HEADERS, ...SIGNED_TIMESTAMP_HEADERS];

const KNOWN = new Set(SENSITIVE_HEADERS);
// Providers and APIs not on the lists: x-foo-signature, x-foo-token, x-foo-secret,
// x-foo-api-key, with an optional suffix (x-hub-signature-256, x-signature-timestamp).
const PATTERN = /^x-(?:[a-z0-9-]+-)?(?:signature|token|secret|api-?key|password)(?:-[a-z0-9-]+)?$/;

/**
 * The header names a config's sources name in their `verify` options
 * (`header: X-Webhook-Signature`, `timestampHeader: X-Sent-At`): whatever
 * option ends in `header`, so a new scheme's own header option is covered too.
 */
export function configuredSignatureHeaders(sources: Readonly<Record<string, { verify: object }>>): string[] {
  const out: string[] = [];
  for (const source of Object.values(sources)) {
    for (const [key, value] of Object.entries(source.verify ?? {})) {
      if (/header$/i.test(key) && typeof value === 'string' && value !== '') out.push(value.toLowerCase());
    }
  }
  return out;
}

/** True for a credential or signature header: a known name, one that looks like one, or one of `extra`. */
export function isSensitiveHeader(name: string, extra: readonly string[] = []): boolean {
  const n = name.toLowerCase();
  return KNOWN.has(n) || PATTERN.test(n) || extra.some((e) => e.toLowerCase() === n);
}

/** `isSensitiveHeader` with a config's own signature headers folded in. */
export function sensitiveHeaderTest(sources: Readonly<Record<string, { verify: object }>>): (name: string) => boolean {
  const extra = new Set(configuredSignatureHeaders(sources));
  return (name) => {
    const n = name.toLowerCase();
    return extra.has(n) || isSensitiveHeader(n);
  };
}
