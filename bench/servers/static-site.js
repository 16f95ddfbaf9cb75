'use strict';
/**
 * The local page P2 and P6 render: plain node:http on SITE_HOST (127.0.0.2 by default, a
 * different origin from the services on 127.0.0.1, and the host the API is told to allow
 * with RENDER_ALLOWED_HOSTS) and PORT. A plain-JS copy of test/fixtures/site.ts's `/static`
 * page (the fixture is TypeScript and bench/ runs plain JS on dist/):
 *
 *   /static   a tiny static page (<h1>static</h1>), Cache-Control: no-store
 *   anything else 404
 */
const http = require('node:http');

const page = (title, body) =>
  `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body>${body}</body></html>`;
const STATIC = page('static', '<h1>static</h1><p>A tiny page.</p>');

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url ?? '/', 'http://site.invalid');
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
