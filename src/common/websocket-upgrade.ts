import { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { WebSocket, WebSocketServer } from 'ws';

const PENDING_UPGRADE = Symbol('pendingUpgrade');

interface PendingUpgrade {
  socket: Duplex;
  head: Buffer;
}

type UpgradeRequest = IncomingMessage & { [PENDING_UPGRADE]?: PendingUpgrade };

/**
 * Sends WebSocket upgrade requests through the ordinary router, so that an upgrade route is a
 * normal Nest route: hooks, guards, pipes and the error filter run, and a refusal is an
 * ordinary HTTP answer (JSON error shape) written on the socket before any upgrade. A handler
 * that accepts calls acceptUpgrade. (This is how @fastify/websocket routes upgrades too; its
 * own route option, though, bypasses Nest's controller pipeline, so the `ws` server is used
 * directly.)
 */
export function routeUpgradeRequests(fastify: FastifyInstance): void {
  fastify.server.on('upgrade', (req: UpgradeRequest, socket: Duplex, head: Buffer) => {
    req[PENDING_UPGRADE] = { socket, head };
    const res = new ServerResponse(req);
    res.assignSocket(socket as Socket);
    // An answer that is not an upgrade ends the exchange: the socket is not an HTTP keep-alive one.
    res.once('finish', () => socket.end());
    socket.on('error', () => socket.destroy());
    fastify.routing(req, res);
  });
}

const WEBSOCKET_KEY = /^[+/0-9A-Za-z]{22}==$/;

/**
 * Why this request cannot become a WebSocket, or null when it can: checked before a handler
 * spends anything on it (the `ws` server would refuse such a handshake only at the end).
 */
export function upgradeRefusal(request: FastifyRequest): string | null {
  if ((request.raw as UpgradeRequest)[PENDING_UPGRADE] === undefined) return 'this route is a WebSocket: send Upgrade: websocket';
  const { headers } = request;
  if (String(headers.upgrade).toLowerCase() !== 'websocket') return 'Upgrade must be websocket';
  if (!WEBSOCKET_KEY.test(String(headers['sec-websocket-key']))) return 'missing or invalid Sec-WebSocket-Key';
  if (headers['sec-websocket-version'] !== '13') return 'Sec-WebSocket-Version must be 13';
  return null;
}

/**
 * Completes the pending upgrade: the reply is taken over and the socket becomes a WebSocket;
 * null when the client went away meanwhile.
 */
export function acceptUpgrade(server: WebSocketServer, request: FastifyRequest, reply: FastifyReply): Promise<WebSocket | null> {
  const raw = request.raw as UpgradeRequest;
  const pending = raw[PENDING_UPGRADE];
  if (!pending) throw new Error('not an upgrade request');
  raw[PENDING_UPGRADE] = undefined;
  reply.hijack();
  return new Promise((resolve) => {
    if (pending.socket.destroyed) return resolve(null);
    pending.socket.once('close', () => resolve(null));
    server.handleUpgrade(raw, pending.socket, pending.head, resolve);
  });
}
