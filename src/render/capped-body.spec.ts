import { BadGatewayException } from '@nestjs/common';
import { Readable } from 'node:stream';
import { readCappedJson } from './capped-body';

describe('readCappedJson', () => {
  it('parses a body within the cap, across chunks', async () => {
    const body = Readable.from([Buffer.from('{"html":"<p>'), Buffer.from('hi</p>"}')]);
    await expect(readCappedJson(body, 1024)).resolves.toEqual({ html: '<p>hi</p>' });
  });

  it('stops reading past the cap and fails naming it', async () => {
    let produced = 0;
    const body = new Readable({
      read() {
        produced += 1024;
        this.push(Buffer.alloc(1024, 0x20));
      },
    });
    await expect(readCappedJson(body, 10_000)).rejects.toThrow(
      new BadGatewayException('renderer answer exceeds RENDER_MAX_RESPONSE_BYTES (10000 bytes)'),
    );
    expect(body.destroyed).toBe(true);
    expect(produced).toBeLessThan(64 * 1024); // dropped, not drained
  });
});
