// Shopify: a bare base64 HMAC-SHA256 of the body; topic and id come in headers.

import { headerValue } from './crypto.js';
import { hmacSign, hmacVerifier } from './hmac.js';
import type { HmacOptions } from './hmac.js';
import type { Scheme, SchemeOptionsBase } from './types.js';

export type ShopifyOptions = SchemeOptionsBase;

const fixed = (secrets: string[]): HmacOptions => ({ secrets, header: 'X-Shopify-Hmac-Sha256', encoding: 'base64' });

export const shopifyScheme: Scheme<ShopifyOptions> = {
  name: 'shopify',
  description: 'Shopify webhooks: X-Shopify-Hmac-Sha256; type from X-Shopify-Topic, id from X-Shopify-Webhook-Id.',
  options: { type: 'object', properties: {} },
  needsSecret: true,
  create: (options) => hmacVerifier('shopify', fixed(options.secrets)),
  // X-Shopify-Webhook-Id and X-Shopify-Topic are not signed, and one order's
  // body can come as orders/create, orders/paid and orders/updated alike.
  unsignedId: 'type+body',
  identify: (req) => ({ type: headerValue(req, 'X-Shopify-Topic'), id: headerValue(req, 'X-Shopify-Webhook-Id') }),
  sign: (body, options, now) => hmacSign('shopify', body, fixed(options.secrets), now),
};
