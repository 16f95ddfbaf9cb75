'use strict';
/**
 * P1's strictest baseline: a bare `node:http` server answering every request with the bytes
 * of BARE_BODY_FILE (the JSON body P1 took from the real app), serialized once at start-up,
 * with the same content-type as Fastify's. No routing, no framework, no per-request JSON:
 * what one core of this machine can answer at all, so `app / bare node:http` is the share of
 * it the app keeps.
 */
const fs = require('node:fs');
const http = require('node:http');

const body = Buffer.from(JSON.stringify(JSON.parse(fs.readFileSync(process.env.BARE_BODY_FILE, 'utf8'))));
const headers = { 'content-type': 'application/json; charset=utf-8', 'content-length': String(body.length) };
const server = http.createServer((req, res) => {
  res.writeHead(200, headers);
  res.end(body);
});
server.listen(Number(process.env.PORT), '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
