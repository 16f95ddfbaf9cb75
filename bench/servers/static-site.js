'use strict';
/**
 * The local page P2 and P6 render: plain node:http on SITE_HOST (127.0.0.2 by default, a
 * different origin from the services on 127.0.0.1, and the host the API is told to allow
 * with RENDER_ALLOWED_HOSTS) and PORT. A plain-JS copy of test/fixtures/site.ts's `/static`
 * page (the fixture is TypeScript and bench/ runs plain JS on dist/):
 *
 *   /static   a tiny static page (<h1>static</h1>), Cache-Control: no-store
 *   /stored?kb=K&items=N   a tiny page whose script, on the origin's first visit, fills
 *             localStorage with N keys holding K KiB in all (P10: a session with a big state)
 *   anything else 404
 */
const http = require('node:http');

const page = (title, body) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
const STATIC = page('static', '<h1>static</h1><p>A tiny page.</p>');

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url ?? '/', 'http://site.invalid');
  if (pathname === '/stored') {
    const params = new URL(req.url ?? '/', 'http://site.invalid').searchParams;
    const items = Math.max(1, Number(params.get('items')) || 1);
    const value = Math.floor((Number(params.get('kb')) || 0) * 1024 / items);
    const script = `if (!localStorage.getItem('k0')) { const v = 'x'.repeat(${value}); for (let i = 0; i < ${items}; i++) localStorage.setItem('k' + i, v); }`;
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(page('stored', `<h1>stored</h1><script>${script}</script>`));
    return;
  }
  if (pathname === '/static') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(STATIC);
    return;
  }
  // Chromium asks for /favicon.ico after a page loads; a quick 404 like the fixture's.
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found');
});

server.listen(Number(process.env.PORT), process.env.SITE_HOST || '127.0.0.2');
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
