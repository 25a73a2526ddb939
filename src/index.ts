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
  DeliveryRequest,
  DeliveryResponse,
  JsonSchema,
  JsonValue,
  PluginLogger,
} from './plugin.js';
export type { RelayEvent, Headers, TemplateContext } from './event.js';
export { SIGNATURE_HEADERS } from './verify/headers.js';
