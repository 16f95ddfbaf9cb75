import { createServer } from 'node:net';

/** A loopback port with nothing listening on it (bound, then closed). */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A page on the allow-listed test site (127.0.0.2) that nothing serves: a render of it runs in
 * Chromium, takes its session request, and fails with 502.
 */
export const deadSiteUrl = async (): Promise<string> => `http://127.0.0.2:${await closedPort('127.0.0.2')}/`;
