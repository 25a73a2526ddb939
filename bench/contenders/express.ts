// The provider's Node.js example (shared/provider-docs/archivus-webhook-
// handler-example.txt) as written: express.raw, HMAC compared with
// timingSafeEqual, JSON.parse, a switch on the type, and the example's
// console.log lines per event, then 200. Only the secret and port come from
// the command line: `node express.js PORT SECRET`.

import crypto from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';

const app = express();
const WEBHOOK_SECRET = process.argv[3] ?? '';

interface ArchivusEvent {
  type?: string;
  data?: Record<string, unknown>;
}
type WithPayload = Request & { webhookPayload?: ArchivusEvent };

function verifyWebhookSignature(payload: string, signature: string, secret: string): boolean {
  const expectedSignature = crypto.createHmac('sha256', secret).update(payload).digest('hex');
  // The example throws on a length mismatch; answering 401 is what it means.
  const a = Buffer.from(`sha256=${expectedSignature}`);
  const b = Buffer.from(signature);
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

app.use('/webhooks/archivus', express.raw({ type: 'application/json' }), (req: WithPayload, res: Response, next: NextFunction) => {
  const signature = req.headers['x-archivus-signature'];
  if (typeof signature !== 'string') return void res.status(401).json({ error: 'Missing signature' });
  const payload = (req.body as Buffer).toString();
  if (!verifyWebhookSignature(payload, signature, WEBHOOK_SECRET)) return void res.status(401).json({ error: 'Invalid signature' });
  req.webhookPayload = JSON.parse(payload) as ArchivusEvent;
  next();
});

app.post('/webhooks/archivus', (req: WithPayload, res: Response) => {
  const event = req.webhookPayload!;
  const eventData = event.data ?? {};
  switch (event.type) {
    case 'document.processed':
      handleDocumentProcessed(eventData);
      break;
    case 'document.failed':
      console.log(`Document ${String(eventData.document_id)} processing failed: ${String(eventData.error ?? 'Unknown error')}`);
      break;
    case 'document.uploaded':
      console.log(`Document ${String(eventData.document_id)} uploaded`);
      break;
    case 'chat.message.created':
      console.log(`Chat message created in session ${String(eventData.session_id)}`);
      break;
    default:
      console.log(`Unknown event type: ${event.type}`);
  }
  res.json({ status: 'ok' });
});

function handleDocumentProcessed(data: Record<string, unknown>): void {
  const document = data.document as { filename?: string; ai_summary?: string } | undefined;
  console.log(`Document ${String(data.document_id)} processed successfully`);
  console.log(`Filename: ${document?.filename}`);
  console.log(`AI Summary: ${document?.ai_summary || 'N/A'}`);
}

app.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => console.log('Webhook server listening'));
process.on('SIGTERM', () => process.exit(0));
