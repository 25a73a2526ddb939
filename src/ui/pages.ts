// The dashboard's HTML: a login form, and one shell for every page, whose
// content the browser module (static/app.js) fetches from the admin API. No
// data is rendered here, so the API stays the only data path.

export const PAGES = {
  overview: 'Overview',
  events: 'Events',
  event: 'Event',
  dead: 'Dead letters',
  rules: 'Rules',
  rejected: 'Rejected',
  try: 'Try it',
} as const;
export type Page = keyof typeof PAGES;

const NAV: ReadonlyArray<[Page, string]> = [
  ['overview', '/ui'],
  ['events', '/ui/events'],
  ['dead', '/ui/dead'],
  ['rules', '/ui/rules'],
  ['rejected', '/ui/rejected'],
  ['try', '/ui/try'],
];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);

function head(title: string, script: boolean): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Relay</title>
<link rel="icon" href="/ui/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/ui/static/style.css">
${script ? '<script type="module" src="/ui/static/app.js"></script>\n' : ''}</head>`;
}

export function loginPage(options: { next: string; error?: string }): string {
  return `${head('Log in', false)}
<body class="login">
<main>
<h1><span class="logo">⇄</span> Relay</h1>
<form method="post" action="/ui/login">
<label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${escapeHtml(options.next)}">
${options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>\n` : ''}<button type="submit">Log in</button>
<p class="hint">The value of <code>RELAY_ADMIN_TOKEN</code>. The session lasts 12 hours.</p>
</form>
</main>
</body>
</html>
`;
}

/** The bar on every page once logged in: brand, navigation (wraps on a phone), log out. */
function header(active: Page | undefined): string {
  const links = NAV.map(([p, href]) => `<a href="${href}"${p === active ? ' aria-current="page"' : ''}>${PAGES[p]}</a>`).join('\n');
  return `<header>
<a class="brand" href="/ui"><span class="logo">⇄</span> Relay</a>
<nav aria-label="Dashboard">
${links}
</nav>
<form method="post" action="/ui/logout"><button type="submit" class="link">Log out</button></form>
</header>`;
}

export function shellPage(page: Page): string {
  return `${head(PAGES[page], true)}
<body data-page="${page}">
${header(page === 'event' ? 'events' : page)}
<main id="main"><p class="muted">Loading…</p></main>
<noscript><p class="error">The dashboard needs JavaScript: it reads everything from the admin API.</p></noscript>
</body>
</html>
`;
}

/**
 * 404. With a session it keeps the navigation and names the path; without
 * one (a missing static file) it says no more than that.
 */
export function notFoundPage(path?: string): string {
  const body =
    path === undefined
      ? `<body class="login"><main><h1>Not found</h1><p><a href="/ui">Back to the overview</a></p></main></body>`
      : `<body data-page="not-found">
${header(undefined)}
<main id="main" class="not-found">
<h1>Page not found</h1>
<p>There is no dashboard page at <code>${escapeHtml(path)}</code>.</p>
<ul>
<li><a href="/ui">The overview</a>: traffic, backlog, dead letters and open circuits</li>
<li><a href="/ui/events">Events</a>: search by id or seq, or filter by source, type and status</li>
<li><a href="/ui/try">Try it</a>: see what the current config does with an event</li>
</ul>
</main>
</body>`;
  return `${head('Not found', false)}
${body}
</html>
`;
}
