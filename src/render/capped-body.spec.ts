import { BadGatewayException } from '@nestjs/common';
import { Readable } from 'node:stream';
import { readCappedBody } from './capped-body';

describe('readCappedBody', () => {
  it('returns the bytes of a body within the cap, across chunks, undecoded', async () => {
    const body = Readable.from([Buffer.from('{"html":"<p>'), Buffer.from([0xc3]), Buffer.from([0xa9, 0x7d])]);
    const bytes = await readCappedBody(body, 1024);
    expect(bytes.equals(Buffer.from('{"html":"<p>é}'))).toBe(true);
  });

  it('stops reading past the cap and fails naming it', async () => {
    let produced = 0;
    const body = new Readable({
      read() {
        produced += 1024;
        this.push(Buffer.alloc(1024, 0x20));
      },
    });
    await expect(readCappedBody(body, 10_000)).rejects.toThrow(
      new BadGatewayException('renderer answer exceeds RENDER_MAX_RESPONSE_BYTES (10000 bytes)'),
    );
    expect(body.destroyed).toBe(true);
    expect(produced).toBeLessThan(64 * 1024); // dropped, not drained
  });

  it('fails with the body’s own error, and when the body closes before its end', async () => {
    const failing = new Readable({ read() {} });
    failing.push(Buffer.from('{"html":'));
    const read = readCappedBody(failing, 1024);
    failing.destroy(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    await expect(read).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });

    const cut = new Readable({ read() {} });
    cut.push(Buffer.from('{"html":'));
    const cutRead = readCappedBody(cut, 1024);
    cut.destroy();
    await expect(cutRead).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('keeps listening for errors once read: a late error from the body cannot crash the process', async () => {
    const body = Readable.from([Buffer.from('{}')]);
    expect((await readCappedBody(body, 1024)).toString()).toBe('{}');
    expect(() => body.emit('error', new Error('late'))).not.toThrow();
  });

  it('fails at once for a body that failed or was cut before it is read (its events are gone)', async () => {
    const failed = new Readable({ read() {} });
    failed.on('error', () => {}); // as undici's body: the error went by before anyone read
    failed.destroy(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    await new Promise((resolve) => setImmediate(resolve));
    const cut = new Readable({ read() {} });
    cut.destroy();
    await new Promise((resolve) => setImmediate(resolve));

    const within = <T>(read: Promise<T>) =>
      Promise.race([read, new Promise((_, reject) => setTimeout(() => reject(new Error('still waiting')), 500))]);
    await expect(within(readCappedBody(failed, 1024))).rejects.toMatchObject({ code: 'UND_ERR_SOCKET' });
    await expect(within(readCappedBody(cut, 1024))).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });
});
