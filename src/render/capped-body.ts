import { BadGatewayException } from '@nestjs/common';
import type { Readable } from 'node:stream';

/**
 * Reads a renderer's answer as a streamed limit: past `maxBytes` the body is dropped and the
 * render fails naming the cap, so a renderer (or whatever answers on its address) cannot make
 * the API buffer without bound. The renderer enforces RENDER_MAX_RESPONSE_BYTES itself; this
 * is the API's own fence, with room for the JSON around the counted parts.
 */
export async function readCappedJson(body: Readable, maxBytes: number): Promise<unknown> {
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
  return JSON.parse(Buffer.concat(chunks, total).toString('utf8'));
}
