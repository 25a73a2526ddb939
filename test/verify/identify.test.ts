// Where each scheme finds an event's type and id, and Slack's challenge answer.

import { describe, expect, it } from 'vitest';
import { getScheme } from '../../src/verify/index.js';
import type { Scheme } from '../../src/verify/types.js';
import { request } from './helpers.js';

const scheme = (name: string): Scheme => getScheme(name)!;

describe('github', () => {
  const headers = { 'X-GitHub-Event': 'pull_request', 'X-GitHub-Delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958' };

  it('appends a string action to the event name', () => {
    expect(scheme('github').identify!(request(headers, ''), { action: 'opened', number: 1 })).toEqual({
      type: 'pull_request.opened',
      id: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    });
  });

  it('uses the bare event name without an action, or with a non-string one', () => {
    expect(scheme('github').identify!(request(headers, ''), { zen: 'Keep it simple.' }).type).toBe('pull_request');
    expect(scheme('github').identify!(request(headers, ''), { action: { nested: true } }).type).toBe('pull_request');
    expect(scheme('github').identify!(request(headers, ''), 'not an object').type).toBe('pull_request');
  });

  it('has no type or id when the headers are missing or repeated', () => {
    const twice = { 'X-GitHub-Event': ['push', 'ping'] };
    expect(scheme('github').identify!(request(twice, ''), { action: 'x' })).toEqual({ type: undefined, id: undefined });
  });
});

describe('shopify', () => {
  it('reads topic and webhook id from headers', () => {
    const h = { 'X-Shopify-Topic': 'orders/create', 'X-Shopify-Webhook-Id': 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043' };
    expect(scheme('shopify').identify!(request(h, '{}'), {})).toEqual({
      type: 'orders/create',
      id: 'b54557e4-bdd9-4b37-8a5f-bf7d70bcd043',
    });
  });
});

describe('slack', () => {
  const slack = scheme('slack');

  it('answers url_verification with the challenge', () => {
    const payload = { token: 't', challenge: '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P', type: 'url_verification' };
    expect(slack.intercept!(payload)).toEqual({ status: 200, body: { challenge: payload.challenge } });
  });

  it('does not intercept event callbacks or odd payloads', () => {
    expect(slack.intercept!({ type: 'event_callback', event: { type: 'app_mention' } })).toBeUndefined();
    expect(slack.intercept!({ type: 'event_callback', challenge: 'x' })).toBeUndefined();
    expect(slack.intercept!(null)).toBeUndefined();
    expect(slack.intercept!({ type: 'url_verification', challenge: 42 })).toBeUndefined();
  });

  it('takes the inner event type and event_id for event callbacks', () => {
    const payload = { type: 'event_callback', event_id: 'Ev08MFMKH6', event: { type: 'app_mention', text: 'hi' } };
    expect(slack.identify!(request({}, ''), payload)).toEqual({ type: 'app_mention', id: 'Ev08MFMKH6' });
  });

  it('falls back to the outer type', () => {
    expect(slack.identify!(request({}, ''), { type: 'url_verification' })).toEqual({ type: 'url_verification', id: undefined });
  });
});

describe('standard-webhooks', () => {
  it('takes the id from webhook-id or svix-id; type comes from $.type', () => {
    const sw = scheme('standard-webhooks');
    expect(sw.identify!(request({ 'webhook-id': 'msg_1' }, ''), {})).toEqual({ id: 'msg_1' });
    expect(sw.identify!(request({ 'svix-id': 'msg_2' }, ''), {})).toEqual({ id: 'msg_2' });
    expect(sw.defaults).toEqual({ typePath: '$.type' });
  });
});
