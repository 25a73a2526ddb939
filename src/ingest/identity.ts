// Where a source's event type and id travel when they are headers set by the
// provider (GitHub, Shopify, or an explicit `event: { type: { header } }`),
// which a signature alone does not produce. `relay send`, `relay test` and
// the dry run read it to fill in or ask for the type.

import type { LoadedConfig } from '../config/load.js';
import type { IdSpec } from '../config/types.js';
import type { CompiledSource } from './source.js';

export interface HeaderIdentity {
  type?: { header: string; value: (type: string) => string; example: string };
  id?: string;
}

const schemeIdentity: Record<string, HeaderIdentity> = {
  // GitHub's type is `X-GitHub-Event` + the payload's `.action`: pull_request.opened sends `pull_request`.
  github: { type: { header: 'x-github-event', value: (t) => t.split('.')[0] ?? t, example: 'pull_request.opened' }, id: 'x-github-delivery' },
  shopify: { type: { header: 'x-shopify-topic', value: (t) => t, example: 'orders/create' }, id: 'x-shopify-webhook-id' },
};

/** Which headers carry the type and id. An explicit `event:` setting wins over the scheme, as in compileSource. */
export function identityHeaders(config: Pick<LoadedConfig, 'raw'>, source: CompiledSource): HeaderIdentity {
  const event = config.raw.sources[source.name]?.event;
  const fromScheme = schemeIdentity[source.scheme.name] ?? {};
  const header = (spec: IdSpec) => (typeof spec === 'object' && 'header' in spec ? spec.header.toLowerCase() : undefined);
  const typeName = event?.type === undefined ? undefined : header(event.type);
  return {
    type: event?.type === undefined ? fromScheme.type : typeName === undefined ? undefined : { header: typeName, value: (t) => t, example: 'TYPE' },
    id: event?.id === undefined ? fromScheme.id : header(event.id),
  };
}

/** What to pass when the type is a header and was not given: the one sentence send, test and the dry run share. */
export function typeHint(source: CompiledSource, type: NonNullable<HeaderIdentity['type']>, cli = true): string {
  const how = cli ? `pass --type ${type.example} or -H ${type.header}:VALUE` : `send the ${type.header} header`;
  return `source "${source.name}" reads the event type from the ${type.header} header: ${how}`;
}

/**
 * The type header to add for `--type`, or none when the user gave it with
 * -H; throws with what to pass when the source needs one and has neither.
 */
export function typeHeaders(
  config: Pick<LoadedConfig, 'raw'>,
  source: CompiledSource,
  type: string | undefined,
  given: Record<string, string>,
  io: { err(text: string): void },
): Record<string, string> {
  const { type: typeHeader } = identityHeaders(config, source);
  if (typeHeader && given[typeHeader.header] === undefined) {
    if (type === undefined) throw new Error(typeHint(source, typeHeader));
    return { [typeHeader.header]: typeHeader.value(type) };
  }
  if (!typeHeader && type !== undefined) io.err(`--type ignored: source "${source.name}" reads the event type from the body (${source.typeFrom})`);
  return {};
}
