'use strict';
/**
 * P2's floor: the least a process between the client and the renderer can do. Plain node:http
 * and an undici Pool set up as the API's (renderer-pool.ts), with none of the API's own work —
 * no validation, URL policy, session, metrics or logging. It forwards the client's body as it
 * is to the renderer's `POST /render`, asking for the parts form as the API does, and answers
 * the page part's bytes (the client-facing page, as the API passes it through).
 *
 * So P2 can tell what any extra process costs on this machine (two more loopback hops, a
 * process waking up twice per render) from what the API's code costs on top of that.
 *
 *   PORT       where to listen (127.0.0.1)
 *   UPSTREAM   the renderer's base URL
 *   TOKEN      the renderer's bearer token
 */
const http = require('node:http');
const { Pool } = require('undici');

const PARTS_TYPE = 'application/vnd.riptide.render-parts';
const pool = new Pool(process.env.UPSTREAM, { connections: 128, keepAliveTimeout: 30_000 });
const headers = { authorization: `Bearer ${process.env.TOKEN}`, 'content-type': 'application/json', accept: PARTS_TYPE };

async function forward(body, res) {
  const answer = await pool.request({ method: 'POST', path: '/render', headers, body });
  const bytes = Buffer.from(await answer.body.arrayBuffer());
  if (answer.statusCode !== 200) {
    res.writeHead(answer.statusCode, { 'content-type': 'application/json' });
    res.end(bytes);
    return;
  }
  // riptide-part-lengths: <meta bytes>,<state bytes>; the page follows them.
  const [meta, state] = String(answer.headers['riptide-part-lengths']).split(',').map(Number);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(bytes.subarray(meta + state));
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    forward(Buffer.concat(chunks), res).catch((err) => {
      res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: String(err) }));
    });
  });
});

server.listen(Number(process.env.PORT), '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}
