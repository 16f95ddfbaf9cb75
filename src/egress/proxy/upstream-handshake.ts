import type { Socket } from 'node:net';
import { authorityOf } from '../egress-target';
import { parseIp } from '../ip-address';
import type { UpstreamProxy } from '../upstream-proxy';
import { readMessage } from './socket-io';

/** Where the upstream proxy should connect: the name the browser asked for, and its port. */
export interface TunnelTarget {
  host: string;
  port: number;
}

/** Asks the upstream proxy on `socket` for a tunnel to `target`; resolves when bytes can flow. */
export function openUpstreamTunnel(socket: Socket, proxy: UpstreamProxy, target: TunnelTarget): Promise<void> {
  return proxy.protocol === 'socks5' ? socks5Connect(socket, proxy, target) : httpConnect(socket, proxy, target);
}

/** `Proxy-Authorization` for an HTTP upstream, or none. */
export function proxyAuthorization(proxy: UpstreamProxy): Record<string, string> {
  if (proxy.username === null && proxy.password === null) return {};
  const token = Buffer.from(`${proxy.username ?? ''}:${proxy.password ?? ''}`).toString('base64');
  return { 'proxy-authorization': `Basic ${token}` };
}

async function httpConnect(socket: Socket, proxy: UpstreamProxy, target: TunnelTarget): Promise<void> {
  const authority = authorityOf(target);
  const headers = Object.entries({ host: authority, ...proxyAuthorization(proxy) }).map(([k, v]) => `${k}: ${v}\r\n`);
  socket.write(`CONNECT ${authority} HTTP/1.1\r\n${headers.join('')}\r\n`);
  const head = await readMessage(socket, (buffered) => {
    const end = buffered.indexOf('\r\n\r\n');
    return end < 0 ? 0 : end + 4;
  });
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(head.toString('latin1'));
  if (status?.[1] !== '200') throw new Error(`upstream proxy ${proxy.display} answered CONNECT with ${status?.[1] ?? 'garbage'}`);
}

const SOCKS_VERSION = 5;
const NO_AUTH = 0x00;
const USER_PASS = 0x02;
const CONNECT = 0x01;

/** RFC 1928 CONNECT, with RFC 1929 username/password when the proxy has credentials. */
async function socks5Connect(socket: Socket, proxy: UpstreamProxy, target: TunnelTarget): Promise<void> {
  const withAuth = proxy.username !== null || proxy.password !== null;
  socket.write(Buffer.from(withAuth ? [SOCKS_VERSION, 2, NO_AUTH, USER_PASS] : [SOCKS_VERSION, 1, NO_AUTH]));
  const [, method] = await readMessage(socket, (b) => (b.length >= 2 ? 2 : 0));
  if (method === USER_PASS && withAuth) {
    const user = Buffer.from(proxy.username ?? '');
    const pass = Buffer.from(proxy.password ?? '');
    socket.write(Buffer.concat([Buffer.from([1, user.length]), user, Buffer.from([pass.length]), pass]));
    const [, status] = await readMessage(socket, (b) => (b.length >= 2 ? 2 : 0));
    if (status !== 0) throw new Error(`upstream proxy ${proxy.display} refused the credentials`);
  } else if (method !== NO_AUTH) {
    throw new Error(`upstream proxy ${proxy.display} wants an authentication method we do not offer`);
  }
  const port = Buffer.from([target.port >> 8, target.port & 0xff]);
  socket.write(Buffer.concat([Buffer.from([SOCKS_VERSION, CONNECT, 0]), socksAddress(target.host), port]));
  const reply = await readMessage(socket, socks5ReplyLength);
  if (reply[1] !== 0) throw new Error(`upstream proxy ${proxy.display} could not connect (SOCKS reply ${reply[1]})`);
}

/** ATYP and address: IP literals as such, a name as a domain (the upstream resolves it in its own network). */
function socksAddress(host: string): Buffer {
  const literal = parseIp(host);
  if (literal) return Buffer.concat([Buffer.from([literal.length === 4 ? 1 : 4]), literal]);
  const name = Buffer.from(host);
  return Buffer.concat([Buffer.from([3, name.length]), name]);
}

/** VER REP RSV ATYP BND.ADDR BND.PORT, where BND.ADDR's length depends on ATYP. */
function socks5ReplyLength(b: Buffer): number {
  if (b.length < 5) return 0;
  const addressLength = b[3] === 1 ? 4 : b[3] === 4 ? 16 : 1 + b[4];
  const length = 4 + addressLength + 2;
  return b.length >= length ? length : 0;
}
