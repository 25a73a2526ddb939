// A plugin written outside the clone imports `relay-webhooks` (definePlugin,
// DeliveryError). The name resolves by itself only inside this package (a
// self-reference) or where it is installed; a resolve hook maps the bare
// name to the running Relay's own entry, so a plugin works from any folder
// and shares the running copy's classes (`instanceof DeliveryError` holds).

import { register } from 'node:module';

export const PACKAGE_NAME = 'relay-webhooks';

let registered = false;

/** Once per process, before the first plugin is imported. */
export function linkPackageName(): void {
  if (registered) return;
  registered = true;
  // dist/src/config → dist/src/index.js when built; src/config → src/index.ts under tsx.
  const entry = new URL(import.meta.url.endsWith('.ts') ? '../index.ts' : '../index.js', import.meta.url).href;
  const hook = `
    export async function resolve(specifier, context, next) {
      if (specifier === ${JSON.stringify(PACKAGE_NAME)}) return { url: ${JSON.stringify(entry)}, shortCircuit: true };
      return next(specifier, context);
    }`;
  register(`data:text/javascript,${encodeURIComponent(hook)}`);
}
