import { createServer, IncomingMessage, request as httpRequest, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { refusalOf } from '../address-ranges';
import { EgressPolicy, EgressReason, EgressVerdict } from '../egress-policy';
import { authorityOf, EgressTarget, targetOfAuthority } from '../egress-target';
import { HostResolver } from '../host-resolver';
import { IpBytes, parseIp } from '../ip-address';
import type { UpstreamProxy } from '../upstream-proxy';
import { endToEndHeaders } from './forwarded-headers';
import { openUpstreamTunnel, proxyAuthorization } from './upstream-handshake';
import { connectPinned, splice, startTls } from './socket-io';

/** One connection the policy refused: what the browser asked for and why. */
export interface Refusal {
  /** The request's URL (plain HTTP), or `host:port` for a tunnel (HTTPS, WS, WSS). */
  url: string;
  /** `host:port`, as the policy saw it: lets the renderer match the browser's failed requests. */
  authority: string;
  host: string;
  reason: EgressReason;
}

export interface EgressProxyOptions {
  policy: EgressPolicy;
  /** Resolves the operator's (trusted) upstream proxy; a session's proxy goes through the policy. */
  resolve: HostResolver;
  /** Asked per connection: the upstream to chain through, or null to connect directly. */
  upstream: () => UpstreamProxy | null;
  onRefused: (refusal: Refusal) => void;
  /** Connections that were allowed but failed (unreachable host, upstream error); never carries credentials. */
  onFailure?: (failure: ConnectFailure) => void;
}

/** An allowed connection that could not be made: the browser only sees a closed socket, this says why. */
export interface ConnectFailure {
  authority: string;
  message: string;
}

const MAX_URL_CHARS = 2048;
const CONNECTION_ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';

/** Ports of every egress listener in this process: a page must not use another context's listener. */
const OWN_PORTS = new Set<number>();

/** The IPv4 addresses a connection reaches this process's listeners (bound to 127.0.0.1) through. */
const LISTENER_ADDRESSES = ['127.0.0.1', '0.0.0.0'].map((a) => parseIp(a)!);
const isListenerAddress = (bytes: IpBytes): boolean => LISTENER_ADDRESSES.some((l) => l.every((b, i) => b === bytes[i]));

/**
 * Whether a connection to `address` (on one of OWN_PORTS) would reach a listener: 127.0.0.1 or
 * 0.0.0.0, also in an IPv6 form carrying them. Only those: the test site on 127.0.0.2 may well
 * use the same port number as a listener on 127.0.0.1.
 */
const reachesListeners = (address: IpBytes): boolean =>
  refusalOf(address, (carried) => carried.length === 4 && !isListenerAddress(carried)) !== null;

/**
 * The renderer's forward proxy: every connection the browser opens arrives here, as a plain
 * HTTP request (absolute-form) or a CONNECT tunnel (HTTPS, and WS/WSS, which Chromium tunnels
 * too). Each one is judged by the egress policy, which resolves the name itself; an allowed
 * connection goes to exactly an address the policy checked, directly or through the upstream
 * proxy. A refused one looks like a network failure to the browser (the socket is closed, or
 * the tunnel refused) and is reported through `onRefused`.
 *
 * Written for this purpose rather than taken from proxy-chain: there a refused plain-HTTP request
 * becomes an HTTP error page that the browser takes for the site's answer, its HTTP forwarder
 * parses upstream answers with Node's lenient (insecureHTTPParser) mode, and pinning the checked
 * address means overriding its per-request DNS lookup, which also resolves the upstream proxy and
 * is skipped for IP literals — the check would live outside it anyway.
 */
export class EgressProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Duplex>();
  private port = 0;

  constructor(private readonly options: EgressProxyOptions) {
    this.server = createServer({ requireHostHeader: false }, (req, res) => void this.onRequest(req, res));
    this.server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => void this.onConnect(req, socket, head));
    this.server.on('connection', (socket: Socket) => this.track(socket));
    // A client that speaks garbage gets its socket closed; nothing else happens.
    this.server.on('clientError', (_error, socket: Duplex) => socket.destroy());
  }

  /** Listens on loopback, on a port of its own; returns the URL to give the browser. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
    OWN_PORTS.add(this.port);
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    OWN_PORTS.delete(this.port);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '');
    } catch {
      return void req.socket.destroy();
    }
    // Only http: arrives in absolute form; anything else (https: would go out unencrypted) is refused.
    const verdict = await this.judge(this.options.policy.checkUrl(url), url.protocol === 'http:');
    if (!this.admitted(verdict, url.href.slice(0, MAX_URL_CHARS))) return void req.socket.destroy();

    const upstream = this.options.upstream();
    const viaHttpProxy = upstream !== null && upstream.protocol !== 'socks5';
    const outgoing = httpRequest({
      method: req.method,
      // An HTTP upstream takes the absolute URL; a direct connection or a SOCKS tunnel the path.
      path: viaHttpProxy ? url.href : `${url.pathname}${url.search}`,
      headers: [...endToEndHeaders(req.rawHeaders), ...Object.entries(viaHttpProxy ? proxyAuthorization(upstream) : {}).flat()],
      setHost: false,
      createConnection: (_options, done) => {
        const opening = viaHttpProxy ? this.connectUpstream(upstream) : this.open(verdict, upstream);
        opening.then(
          (socket) => {
            done(null, this.track(socket));
            // A handshake (SOCKS) left the socket paused; nothing arrives before our request is sent.
            socket.resume();
          },
          (error: Error) => done(error, undefined as never),
        );
        return undefined;
      },
    });
    outgoing.on('response', (answer) => {
      if (viaHttpProxy && answer.statusCode === 407) {
        // Our upstream's challenge is not the browser's to answer: to the browser it is a failed connection.
        answer.resume();
        this.options.onFailure?.({ authority: authorityOf(verdict.target), message: `upstream proxy ${upstream.display} refused the credentials (407)` });
        return void req.socket.destroy();
      }
      res.writeHead(answer.statusCode ?? 502, answer.statusMessage, endToEndHeaders(answer.rawHeaders));
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    outgoing.on('error', (error) => {
      this.options.onFailure?.({ authority: authorityOf(verdict.target), message: error.message });
      // Before the answer started, closing the socket is the browser's "connection failed".
      if (res.headersSent) res.destroy();
      else req.socket.destroy();
    });
    req.pipe(outgoing);
  }

  private async onConnect(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    client.on('error', () => client.destroy());
    const target = targetOfAuthority(req.url ?? '');
    if (!target) return void client.end('HTTP/1.1 400 Bad Request\r\n\r\n');
    const verdict = await this.judge(this.options.policy.checkTarget(target));
    if (!this.admitted(verdict, authorityOf(target))) return void client.end('HTTP/1.1 403 Forbidden\r\n\r\n');

    let remote: Socket;
    try {
      remote = this.track(await this.open(verdict, this.options.upstream()));
    } catch (error) {
      this.options.onFailure?.({ authority: authorityOf(target), message: (error as Error).message });
      return void client.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
    }
    if (client.destroyed) return void remote.destroy();
    client.write(CONNECTION_ESTABLISHED);
    if (head.length > 0) remote.write(head);
    splice(client, remote);
  }

  /**
   * The policy's verdict, with the egress layer's own refusals folded in: a scheme the proxy does
   * not carry, and its own listeners — even with loopback allow-listed, a page must not reach
   * another context's listener (and so its upstream proxy, or its attribution).
   */
  private async judge(checking: Promise<EgressVerdict>, schemeCarried = true): Promise<EgressVerdict> {
    const verdict = await checking;
    if (verdict.outcome === 'refused') return verdict;
    if (!schemeCarried) return { outcome: 'refused', target: verdict.target, reason: 'scheme', address: null };
    if (verdict.outcome === 'allowed' && OWN_PORTS.has(verdict.target.port)) {
      const looped = verdict.addresses.find((a) => {
        const bytes = parseIp(a);
        return bytes !== null && reachesListeners(bytes);
      });
      if (looped) return { outcome: 'refused', target: verdict.target, reason: 'loopback', address: looped };
    }
    return verdict;
  }

  /** True when the connection may go ahead; a refusal is reported, an unresolved name is a failure. */
  private admitted(verdict: EgressVerdict, url: string): verdict is Extract<EgressVerdict, { outcome: 'allowed' }> {
    const authority = authorityOf(verdict.target);
    if (verdict.outcome === 'refused') this.options.onRefused({ url, authority, host: verdict.target.host, reason: verdict.reason });
    if (verdict.outcome === 'unresolved') this.options.onFailure?.({ authority, message: `${verdict.target.host} does not resolve (${verdict.error})` });
    return verdict.outcome === 'allowed';
  }

  /** A socket whose bytes reach the checked target: directly, or tunnelled through the upstream. */
  private async open(verdict: Extract<EgressVerdict, { outcome: 'allowed' }>, upstream: UpstreamProxy | null): Promise<Socket> {
    if (!upstream) return connectPinned(verdict.addresses, verdict.target.port);
    const socket = await this.connectUpstream(upstream);
    try {
      await openUpstreamTunnel(socket, upstream, verdict.target);
      return socket;
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }

  /** The upstream proxy itself: the operator's is trusted; a session's must pass the policy like any target. */
  private async connectUpstream(upstream: UpstreamProxy): Promise<Socket> {
    const addresses = await this.upstreamAddresses(upstream.target, upstream.trusted);
    const socket = await connectPinned(addresses, upstream.target.port);
    return upstream.protocol === 'https' ? startTls(socket, upstream.target.host) : socket;
  }

  private async upstreamAddresses(target: EgressTarget, trusted: boolean): Promise<string[]> {
    if (!trusted) {
      const verdict = await this.options.policy.checkTarget(target);
      if (verdict.outcome === 'allowed') return verdict.addresses;
      throw new Error(`upstream proxy host ${target.host} is ${verdict.outcome === 'refused' ? `refused (${verdict.reason})` : 'unresolved'}`);
    }
    if (target.literal) return [target.host];
    const resolved = await this.options.resolve(target.host);
    if (!resolved.ok) throw new Error(`upstream proxy host ${target.host} does not resolve: ${resolved.error}`);
    return resolved.addresses;
  }

  private track<S extends Duplex>(socket: S): S {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    return socket;
  }
}
