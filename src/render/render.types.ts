import type { RenderDto } from './dto/render.dto';

/** What a render asks of the page, apart from the url and the session. */
export type RenderConfig = Omit<RenderDto, 'url' | 'session_id'>;
