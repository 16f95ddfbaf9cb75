import { BadGatewayException } from '@nestjs/common';
import type { Readable } from 'node:stream';

/**
 * Reads a renderer's answer as a streamed limit: past `maxBytes` the body is dropped and the
 * render fails naming the cap, so a renderer (or whatever answers on its address) cannot make
 * the API buffer without bound. The renderer enforces RENDER_MAX_RESPONSE_BYTES itself; this
 * is the API's own fence, with room for the framing around the counted parts. The bytes stay
 * bytes: the page part is passed to the client as it came.
 */
export async function readCappedBody(body: Readable, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    total += (chunk as Buffer).length;
    if (total > maxBytes) {
      body.destroy();
      throw new BadGatewayException(`renderer answer exceeds RENDER_MAX_RESPONSE_BYTES (${maxBytes} bytes)`);
    }
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total);
}
