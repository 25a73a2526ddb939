// Admin and UI errors as RFC 9457 problem details, in one place (Hono's
// http-exception pattern): `application/problem+json` with type, title,
// status and detail. `error` repeats `detail` for clients written against
// the earlier `{error}` answers.

import { STATUS_CODES } from 'node:http';
import type Koa from 'koa';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Same as detail; kept for clients of the earlier `{error}` shape. */
  error: string;
}

export function problem(status: number, detail: string): Problem {
  return { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, error: detail };
}

/** Answers with a problem document. */
export function sendProblem(ctx: Koa.Context, status: number, detail: string): void {
  ctx.status = status;
  ctx.body = problem(status, detail);
  // After the body: Koa sets application/json for an object body.
  ctx.type = 'application/problem+json';
}
