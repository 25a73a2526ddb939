// @ts-check
// The dashboard's entry module: runs the page the server's shell names.

import { errorBox, mount } from './lib.js';
import dead from './pages/dead.js';
import event from './pages/event.js';
import events from './pages/events.js';
import overview from './pages/overview.js';
import rejected from './pages/rejected.js';
import rules from './pages/rules.js';
import tryIt from './pages/try.js';

/** @type {Record<string, () => Promise<void>>} */
const PAGES = { overview, events, event, dead, rules, rejected, try: tryIt };

const run = PAGES[document.body.dataset.page ?? ''];
if (run) run().catch((err) => mount(errorBox(err)));
