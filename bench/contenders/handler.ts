// What users write today: the provider's sample handler, in Koa. Raw body,
// HMAC check in constant time, JSON.parse, a switch on the type, 200. The
// branches do nothing, so this is the cheapest such handler can be; real ones
// also do the work inline, before answering. `node handler.js PORT SECRET`.

import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import Router from '@koa/router';
import Koa from 'koa';
import getRawBody from 'raw-body';

const secret = process.argv[3] ?? '';
const app = new Koa();
const router = new Router();

interface ArchivusEvent {
  type?: string;
  data?: unknown;
}

let handled = 0;
const handle = (_data: unknown) => void handled++;

router.post('/webhooks/archivus', async (ctx) => {
  const payload = await getRawBody(ctx.req, { limit: '1mb' });
  const signature = Buffer.from(ctx.get('x-archivus-signature'));
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(payload).digest('hex')}`);
  if (signature.length !== expected.length || !timingSafeEqual(signature, expected)) {
    ctx.status = 401;
    ctx.body = { error: 'Invalid signature' };
    return;
  }
  let event: ArchivusEvent;
  try {
    event = JSON.parse(payload.toString('utf8')) as ArchivusEvent;
  } catch {
    ctx.status = 400;
    ctx.body = { error: 'Invalid JSON' };
    return;
  }
  switch (event.type) {
    case 'document.processed':
    case 'document.failed':
    case 'document.uploaded':
    case 'chat.message.created':
      handle(event.data);
      break;
  }
  ctx.body = { status: 'ok' };
});

app.use(router.routes());
const server = app.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`listening ${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => process.exit(0));
