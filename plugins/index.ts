// The built-in actions. `discord/` is not here on purpose: it is the example
// of a custom plugin, loaded from the config's `plugins:` list.

import type { ActionPlugin } from '../src/index.js';
import { email } from './email/index.js';
import { forward } from './forward/index.js';
import { log } from './log/index.js';
import { mqtt } from './mqtt/index.js';
import { nats } from './nats/index.js';
import { rabbitmq } from './rabbitmq/index.js';
import { redisStream } from './redis-stream/index.js';
import { slack } from './slack/index.js';

// Each plugin is typed by its own options, which the generic list cannot say
// (a runner is contravariant in them). The core validates options against
// the plugin's schema before `create`, which is what makes the cast sound.
export const builtins: ActionPlugin[] = [log, forward, slack, email, rabbitmq, nats, redisStream, mqtt] as unknown as ActionPlugin[];
