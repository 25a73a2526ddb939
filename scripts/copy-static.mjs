// The dashboard's browser modules and stylesheet are served as they are
// (no bundler): tsc leaves them alone, so the build copies them beside the
// compiled src/ui/routes.js, which serves ./static/ next to itself.
import { cpSync, rmSync } from 'node:fs';

const from = new URL('../src/ui/static/', import.meta.url);
const to = new URL('../dist/src/ui/static/', import.meta.url);
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
