import type { FastifyInstance } from 'fastify';

/**
 * Answers still in flight when shutdown begins go out with `Connection: close`. Fastify only
 * closes keep-alive connections that are idle when close() starts; one that was busy would
 * otherwise hold the server open until its keep-alive timeout (72 s by default).
 */
export function closeConnectionsOnShutdown(fastify: FastifyInstance): void {
  let closing = false;
  fastify.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
}
