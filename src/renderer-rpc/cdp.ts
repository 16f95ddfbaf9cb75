import { PickType } from '@nestjs/swagger';
import { RenderRequestDto } from './render-request.dto';
import type { StorageState } from './render-response';

/**
 * The renderer's CDP endpoints, for one session incarnation (its context key):
 *   POST   /cdp/:key        launch its browser, restored from the body's state (CdpStartRequestDto);
 *                           503 `busy` at CDP_MAX_CONNECTIONS
 *   GET    /cdp/:key        WebSocket upgrade: the filtered CDP stream of that browser (one attach)
 *   POST   /cdp/:key/end    close it and answer its final state (CdpEndResponse); idempotent for a while
 * Every one needs the renderer token, like every renderer route but /healthz.
 */
export const cdpPath = (key: string): string => `/cdp/${key}`;
export const cdpEndPath = (key: string): string => `/cdp/${key}/end`;

/** Largest CDP message either side passes on (screenshots and large DOMs travel as one message). */
export const CDP_MAX_MESSAGE_BYTES = 256 * 1024 * 1024;

/**
 * `POST /cdp/:key` body: the session's saved state (restored into the browser's default
 * context; its final snapshot is numbered one past state_seq) and its upstream proxy, with the
 * same fields and checks as a render's.
 */
export class CdpStartRequestDto extends PickType(RenderRequestDto, ['storage_state', 'state_seq', 'proxy'] as const) {}

/** `POST /cdp/:key/end` answer: the default context's final cookies and localStorage. */
export interface CdpEndResponse {
  /** null when the browser died before its state could be read. */
  storage_state: StorageState | null;
  state_seq: number | null;
  /** The default context's first page's URL at the end (the session's last_url), if it had one. */
  final_url: string | null;
}

/** Close code the renderer uses when the client's own `Browser.close` ended the browser. */
export const CDP_CLOSED_BY_CLIENT = 4000;
