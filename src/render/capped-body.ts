import { BadGatewayException } from '@nestjs/common';
import type { Readable } from 'node:stream';

/**
 * Reads a renderer's answer as a streamed limit: past `maxBytes` the body is dropped and the
 * render fails naming the cap, so a renderer (or whatever answers on its address) cannot make
 * the API buffer without bound. The renderer enforces RENDER_MAX_RESPONSE_BYTES itself; this
 * is the API's own fence, with room for the framing around the counted parts. The bytes stay
 * bytes: the page part is passed to the client as it came.
 *
 * Listeners, not `for await`: the stream's async iterator (with its end-of-stream watcher, a
 * promise and a nextTick per chunk) was about 3 KB of the ~50 KB the API allocates per render.
 */
export function readCappedBody(body: Readable, maxBytes: number): Promise<Buffer> {
  // The body may have failed before this is called: undici parses on past the headers in the
  // same turn, and the stream's 'error' and 'close' come on a nextTick, before this caller's
  // await resumes. No event will come again, so those cases are answered from its state.
  if (body.errored) return Promise.reject(body.errored);
  if (body.destroyed) return Promise.reject(prematureClose());
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    let settled = false;
    // The error listener stays: an error the body emits after the answer is settled is dropped
    // here instead of becoming an uncaught exception.
    const settle = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      body.off('data', onData).off('end', onEnd).off('close', onClose);
      outcome();
    };
    const onData = (chunk: Buffer): void => {
      total += chunk.length;
      if (total <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      settle(() => reject(new BadGatewayException(`renderer answer exceeds RENDER_MAX_RESPONSE_BYTES (${maxBytes} bytes)`)));
      body.destroy();
    };
    const onEnd = (): void => settle(() => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total)));
    const onError = (err: Error): void => settle(() => reject(err));
    const onClose = (): void => settle(() => reject(prematureClose()));
    body.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

/** Destroyed without an error (the connection cut short): what `for await` would throw. */
const prematureClose = (): Error => Object.assign(new Error('Premature close'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
