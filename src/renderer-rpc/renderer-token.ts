import { createHash, timingSafeEqual } from 'node:crypto';

/** The shortest HEADLESS_TOKEN accepted: a guessable token would undo the renderer's fence. */
export const MIN_TOKEN_LENGTH = 16;

/** The header the API sends on every renderer call but `GET /healthz`. */
export const rendererAuthHeaders = (token: string): { authorization: string } => ({ authorization: `Bearer ${token}` });

const sha256 = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Checks a presented `Authorization` header against the renderer's token in constant time:
 * both sides are hashed first, so neither the token's length nor a matching prefix shows.
 */
export class RendererTokenCheck {
  private readonly digest: Buffer;

  constructor(token: string) {
    this.digest = sha256(`Bearer ${token}`);
  }

  accepts(header: string | string[] | undefined): boolean {
    return typeof header === 'string' && timingSafeEqual(sha256(header), this.digest);
  }
}
