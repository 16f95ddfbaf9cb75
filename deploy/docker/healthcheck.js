'use strict';
// The image's HEALTHCHECK (no curl in a slim image; node is there). One image runs either
// process, so: the API's liveness (/health/live on PORT) when something listens on PORT,
// otherwise the standalone renderer's /healthz on HEADLESS_PORT. Ports come from the environment
// or config/default.yaml, as the service reads them. Exit 0 = healthy, 1 = not.
const http = require('node:http');
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { parse } = require('yaml');

const TIMEOUT_MS = 3000;
const defaults = parse(readFileSync(join(__dirname, '..', '..', 'config', 'default.yaml'), 'utf8')) || {};
const port = (key) => Number(process.env[key.toUpperCase()] || defaults[key]);

/** Resolves to the status code, or to the error code (e.g. 'ECONNREFUSED'). */
function probe(portNumber, path) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port: portNumber, path, timeout: TIMEOUT_MS }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (error) => resolve(error.code || 'error'));
  });
}

async function main() {
  let result = await probe(port('port'), '/health/live');
  if (result === 'ECONNREFUSED') result = await probe(port('headless_port'), '/healthz');
  if (result !== 200) process.stderr.write(`healthcheck: ${result}\n`);
  process.exit(result === 200 ? 0 : 1);
}

void main();
