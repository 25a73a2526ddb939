// @ts-check
// What an empty dashboard says: how to send a first event to each configured
// source with `relay send` (with --type where the source reads its type from
// a header), or to try one without sending it.

import { api, h } from './lib.js';

const SHOWN = 3;

/** @param {Array<{ name: string, path: string }>} sources */
export async function firstEventHint(sources) {
  const shown = sources.slice(0, SHOWN);
  const examples = await Promise.all(shown.map((s) => api(`/examples/${encodeURIComponent(s.name)}`).catch(() => null)));
  const commands = shown.map((s, i) => {
    const ex = examples[i];
    const type = ex?.typeHeader ? ` --type ${ex.type}` : '';
    return `npx relay send event.json --source ${s.name}${type}`;
  });
  return h(
    'div',
    { class: 'empty-hint' },
    h('p', null, h('b', null, 'No events yet.'), ' Point a provider’s webhook at a source’s path, or send a signed test event from the command line:'),
    h('pre', { class: 'commands' }, commands.join('\n')),
    h(
      'p',
      { class: 'muted' },
      '`relay send` signs the JSON file with the source’s secret and posts it to this relay. ',
      h('a', { href: '/ui/try' }, 'Try it'),
      ' shows an example body for each source and what the rules would do with it, without sending anything.',
      sources.length > SHOWN ? ` (${sources.length - SHOWN} more sources not shown.)` : '',
    ),
  );
}
