import { connect, isIP, Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** Connecting plus any proxy handshake must finish within this. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Opens a TCP connection to the first of `addresses` that accepts. These are the addresses the
 * policy checked: the name is never resolved again here, so a DNS answer that changed since
 * (rebinding) cannot move the connection anywhere the check did not see.
 */
export async function connectPinned(addresses: readonly string[], port: number): Promise<Socket> {
  let lastError: unknown = new Error('no address to connect to');
  for (const address of addresses) {
    try {
      return await connectOnce(address, port);
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

function connectOnce(host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    // An IP literal as host: net.connect does no lookup at all.
    const socket = connect({ host, port, noDelay: true });
    const fail = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => fail(new Error(`connect to ${host}:${port} timed out`)));
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.off('error', fail);
      resolve(socket);
    });
  });
}

/** TLS over an open connection (an https:// upstream proxy), verified against `host`. */
export function startTls(socket: Socket, host: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({ socket, servername: isIP(host) ? undefined : host, host });
    const fail = (error: Error): void => {
      secure.destroy();
      reject(error);
    };
    secure.setTimeout(CONNECT_TIMEOUT_MS, () => fail(new Error(`TLS to ${host} timed out`)));
    secure.once('error', fail);
    secure.once('secureConnect', () => {
      secure.setTimeout(0);
      secure.off('error', fail);
      resolve(secure);
    });
  });
}

/**
 * Reads one handshake message: `measure` returns its length once the bytes so far hold a whole
 * one (0 while more are needed). Bytes after it are pushed back for whoever reads next.
 */
export function readMessage(socket: Socket, measure: (buffered: Buffer) => number, maxBytes = 16_384): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const done = (error: Error | null, message?: Buffer): void => {
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      socket.setTimeout(0);
      if (error) reject(error);
      else resolve(message!);
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const length = measure(buffered);
      if (length > 0) {
        socket.pause();
        if (buffered.length > length) socket.unshift(buffered.subarray(length));
        done(null, buffered.subarray(0, length));
      } else if (buffered.length > maxBytes) {
        done(new Error('handshake answer too long'));
      }
    };
    const onError = (error: Error): void => done(error);
    const onClose = (): void => done(new Error('connection closed during the handshake'));
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => done(new Error('handshake timed out')));
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('close', onClose);
    socket.resume();
  });
}

/** Joins two sockets both ways: one side closing ends the other after its data is written; an error ends both. */
export function splice(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  const destroy = (): void => {
    a.destroy();
    b.destroy();
  };
  a.once('error', destroy).once('close', () => b.end());
  b.once('error', destroy).once('close', () => a.end());
}
