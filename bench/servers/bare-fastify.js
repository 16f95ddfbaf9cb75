'use strict';
/**
 * P1's baseline: a bare Fastify server (default options, no logger) answering
 * GET /v1/sessions/:id with the JSON object read from BARE_BODY_FILE, which P1 took from the
 * real app. The handler returns the object, so Fastify serializes it with JSON.stringify
 * exactly as the app does for a controller's return value.
 */
const fs = require('node:fs');
const Fastify = require('fastify');

const body = JSON.parse(fs.readFileSync(process.env.BARE_BODY_FILE, 'utf8'));
const app = Fastify({ logger: false });
app.get('/v1/sessions/:id', async () => body);

app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' }).catch((err) => {
  console.error(err);
  process.exit(1);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => app.close().then(() => process.exit(0)));
