// The headers providers put their signatures (or shared tokens) in. One list
// for everything that must not pass them on: log redaction, masking in
// `relay events show` and the dashboard, and the forward action.

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
  'x-gitlab-token',
  'x-twilio-signature',
  'x-signature-ed25519', // Discord interactions
  'x-relay-signature', // a previous Relay hop
];
