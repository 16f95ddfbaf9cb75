import { acceptsRenderParts, decodeRenderParts, encodeRenderParts, RenderPartsError, RenderPartsMeta } from './render-parts';
import type { RenderPage } from './render-response';

const page: RenderPage = {
  final_url: 'http://a.test/ü',
  html: '<p title="{x}">héllo 😀 "quoted" }</p>',
  screenshot_b64: null,
  screenshot_clipped: false,
  mhtml_b64: null,
  render_time_ms: 12,
  actions_executed: ['click'],
  action_error: null,
  blocked_requests: [{ url: 'http://10.0.0.1/', reason: 'private' }],
};
const meta: RenderPartsMeta = { final_url: page.final_url, render_time_ms: 12, state_seq: 3, context_reused: true };
const state = '{"cookies":[{"name":"é","value":"}"}],"origins":[]}';

describe('render parts', () => {
  it('round-trips meta, state and page; the page part is exactly the page JSON', () => {
    const { body, lengths } = encodeRenderParts(meta, state, page);
    const parts = decodeRenderParts(body, lengths);
    expect(parts.meta).toEqual(meta);
    expect(parts.state).toBe(state);
    expect(parts.page.equals(Buffer.from(JSON.stringify(page)))).toBe(true);
  });

  it('carries no state as an empty part', () => {
    const { body, lengths } = encodeRenderParts({ ...meta, state_seq: 0 }, null, page);
    expect(lengths).toMatch(/^\d+,0$/);
    const parts = decodeRenderParts(body, lengths);
    expect(parts.state).toBeNull();
    expect(JSON.parse(parts.page.toString())).toEqual(page);
  });

  it.each([
    ['no header', undefined],
    ['a malformed header', '12;0'],
    ['repeated headers', ['1,0', '1,0']],
    ['lengths past the body', '5000,0'],
  ])('refuses %s', (_what, lengths) => {
    const { body } = encodeRenderParts(meta, state, page);
    expect(() => decodeRenderParts(body, lengths)).toThrow(RenderPartsError);
  });

  it('refuses a meta part that is not the meta, and a state without a positive seq', () => {
    const frame = (metaText: string, stateText: string, pageText = '{}') => ({
      body: Buffer.from(metaText + stateText + pageText),
      lengths: `${Buffer.byteLength(metaText)},${Buffer.byteLength(stateText)}`,
    });
    const bad = [
      frame('{"final_url":1}', ''),
      frame('not json', ''),
      frame(JSON.stringify({ ...meta, state_seq: null }), state),
      frame(JSON.stringify({ ...meta, state_seq: 0 }), state),
      frame(JSON.stringify(meta), state, '[]'),
    ];
    for (const { body, lengths } of bad) expect(() => decodeRenderParts(body, lengths)).toThrow(RenderPartsError);
  });

  it('is asked for by its media type among others in Accept', () => {
    expect(acceptsRenderParts('application/vnd.riptide.render-parts')).toBe(true);
    expect(acceptsRenderParts('application/json, Application/Vnd.Riptide.Render-Parts;q=0.9')).toBe(true);
    expect(acceptsRenderParts('application/json')).toBe(false);
    expect(acceptsRenderParts('*/*')).toBe(false);
    expect(acceptsRenderParts(undefined)).toBe(false);
  });
});
