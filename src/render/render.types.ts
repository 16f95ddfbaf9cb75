import type { RenderDto } from './dto/render.dto';

/** What a render asks of the page, apart from the url and the session. */
export type RenderConfig = Omit<RenderDto, 'url' | 'session_id'>;

/** The renderer's POST /render answer (riptide-headless fields plus ours). */
export interface RendererResult {
  final_url: string;
  html: string;
  screenshot_b64: string | null;
  mhtml_b64: string | null;
  render_time_ms: number;
  actions_executed: string[];
  action_error: { index: number; type: string; message: string } | null;
  storage_state: unknown;
  context_reused?: boolean;
}
