// `relay init plugin NAME`: a plugin folder that works outside the clone.
// package.json's "type": "module" makes index.ts an ES module, so its
// `import ... from 'relay-webhooks'` goes through the resolve hook that maps
// the name to the running Relay (src/config/package-name.ts).

import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { processIo, type Io } from './format.js';

export interface InitPluginOptions {
  dir?: string;
  force?: boolean;
}

const NAME = /^[a-z][a-z0-9-]*$/;

export async function initPluginCommand(name: string, opts: InitPluginOptions, io: Io = processIo): Promise<string> {
  if (!NAME.test(name)) throw new Error(`plugin name "${name}" must be lower-case letters, digits and -, starting with a letter`);
  const dir = opts.dir ?? join('plugins', name);
  const index = join(dir, 'index.ts');
  if (existsSync(index) && !opts.force) throw new Error(`${index} exists (--force overwrites it)`);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ name: `relay-plugin-${name}`, private: true, type: 'module' }, null, 2)}\n`);
  await writeFile(index, template(name));
  io.out(`wrote ${index} (and package.json). Add it to your config:

plugins: [./${dir.replace(/\\/g, '/')}/index.ts]
rules:
  - name: example
    on: "**"
    actions:
      - use: ${name}
        with: { url: "https://example.com/hook", text: "{{ event.type }}" }

then: relay validate, and relay test EVENT.json`);
  return index;
}

function template(name: string): string {
  return `// The ${name} action plugin. See docs/writing-plugins.md for the contract.
import { definePlugin, DeliveryError, request } from 'relay-webhooks';

interface Options {
  url: string;
  text: string;
}

export default definePlugin<Options>({
  name: '${name}',
  description: 'Posts the rendered text to a URL.',
  options: {
    type: 'object',
    additionalProperties: false,
    required: ['url', 'text'],
    properties: {
      url: { type: 'string', description: 'Where to post.', examples: ['https://example.com/hook'] },
      text: { type: 'string', description: 'Message text (template).', examples: ['{{ event.type }}'] },
    },
  },
  templates: ['text'],
  urls: ['url'],
  create(options, ctx) {
    return async ({ options: rendered, signal }) => {
      const res = await request(options.url, {
        dispatcher: ctx.dispatcher,
        method: 'POST',
        signal,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: rendered.text }),
      });
      const body = await res.body.text();
      if (res.statusCode >= 300) throw DeliveryError.fromStatus(res.statusCode, body, res.headers['retry-after'] as string | undefined);
      return { status: res.statusCode };
    };
  },
});
`;
}
