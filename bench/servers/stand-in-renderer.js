'use strict';
/**
 * P11's renderer: speaks the renderer RPC (src/renderer-rpc, from dist/) without a browser.
 * `POST /render` answers the parts form of a warm render of P2's tiny page after holding the
 * request for the `hold_ms` query parameter of the url it was asked to render (0: at once).
 * It fetches nothing: the url only names a page. So P11 can run the API and the bare forwarder
 * with renders back to back, and with the API idle between renders for as long as Chromium
 * would take, and tell what the API's code costs from what waking up costs on this machine.
 *
 *   PORT    where to listen (127.0.0.1)
 *   TOKEN   the bearer token every call but GET /healthz must carry, as on a real renderer
 */
const http = require('node:http');
const path = require('node:path');
const { RendererTokenCheck } = require(path.join(__dirname, '..', '..', 'dist', 'renderer-rpc', 'renderer-token'));
const { encodeRenderParts, RENDER_PARTS_TYPE, RENDER_PART_LENGTHS_HEADER } = require(path.join(__dirname, '..', '..', 'dist', 'renderer-rpc', 'render-parts'));

/** The same bytes as static-site.js's /static renders to. */
const HTML = '<!DOCTYPE html><html><head><meta charset="utf-8"><title>static</title></head><body><h1>static</h1><p>A tiny page.</p></body></html>';
const token = new RendererTokenCheck(process.env.TOKEN);

function answer(res, status, body, headers = {}) {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': bytes.length, ...headers });
  res.end(bytes);
}

function render(body, res) {
  let request;
  let hold;
  try {
    request = JSON.parse(body);
    hold = Number(new URL(request.url).searchParams.get('hold_ms') ?? 0);
  } catch {
    return answer(res, 400, { error: 'invalid_request', message: 'body is not JSON with a url' });
  }
  const page = {
    final_url: request.url,
    html: HTML,
    screenshot_b64: null,
    screenshot_clipped: false,
    mhtml_b64: null,
    render_time_ms: hold,
    actions_executed: [],
    action_error: null,
    blocked_requests: [],
  };
  // A warm context whose state is the one the caller named: nothing to send back.
  const meta = { final_url: request.url, render_time_ms: hold, state_seq: request.context_key ? (request.state_seq ?? 0) : null, context_reused: true };
  const { body: parts, lengths } = encodeRenderParts(meta, null, page);
  const send = () => answer(res, 200, parts, { 'content-type': RENDER_PARTS_TYPE, [RENDER_PART_LENGTHS_HEADER]: lengths });
  if (hold > 0) setTimeout(send, hold);
  else send();
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    if (req.method === 'GET' && req.url === '/healthz') return answer(res, 200, { status: 'ok', browser: 'connected', contexts: 0, running: 0, queued: 0 });
    if (!token.accepts(req.headers.authorization)) return answer(res, 401, { error: 'unauthorized', message: 'renderer token required' });
    if (req.method === 'POST' && req.url === '/render') return render(Buffer.concat(chunks).toString('utf8'), res);
    if (req.method === 'DELETE' && req.url.startsWith('/contexts/')) {
      res.writeHead(204);
      return res.end();
    }
    answer(res, 404, { error: 'not_found', message: `${req.method} ${req.url}` });
  });
});

server.listen(Number(process.env.PORT), '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
