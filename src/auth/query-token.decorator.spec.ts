import { redactToken } from './query-token.decorator';

describe('redactToken', () => {
  it('hides a token query value wherever it stands, and nothing else', () => {
    expect(redactToken('/v1/sessions/a/cdp?token=secret-key')).toBe('/v1/sessions/a/cdp?token=[redacted]');
    expect(redactToken('/v1/sessions/a/cdp?x=1&TOKEN=secret&y=2')).toBe('/v1/sessions/a/cdp?x=1&TOKEN=[redacted]&y=2');
    expect(redactToken('/v1/sessions/token=a/cdp')).toBe('/v1/sessions/token=a/cdp');
    expect(redactToken('/v1/sessions?cursor=token')).toBe('/v1/sessions?cursor=token');
  });
});
