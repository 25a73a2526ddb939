// The public API for plugin authors. Listed one by one (Hono's src/index.ts):
// anything not exported here is internal and may change.

export { definePlugin, DeliveryError, httpResponse, parseRetryAfter } from './plugin.js';
export type {
  ActionPlugin,
  ActionInput,
  ActionResult,
  ActionRunner,
  CreateContext,
  DeliveryErrorOptions,
  DeliveryInfo,
  DeliveryRequest,
  DeliveryResponse,
  JsonSchema,
  JsonValue,
  PluginLogger,
  StringOption,
} from './plugin.js';
export { EgressError } from './deliver/egress.js';
export type { Egress, EgressAgentOptions } from './deliver/egress.js';
export type { RelayEvent, Headers, TemplateContext } from './event.js';
export { SENSITIVE_HEADERS, SIGNATURE_HEADERS, isSensitiveHeader } from './verify/headers.js';
export { standardWebhooksKey, standardWebhooksSignature } from './verify/standard-webhooks.js';
export { TRANSFORM_SCHEMA } from './match/transform.js';
export type { TransformConfig } from './match/transform.js';
// The HTTP client ctx.dispatcher belongs to, so a plugin outside the clone
// needs no undici of its own (a different copy's dispatcher would not fit).
// Loaded at the first call: importing the plugin API must not load undici.
export { fetch, request } from './http-client.js';
