import { withFields } from './render-reply';

describe('withFields', () => {
  const page = { final_url: 'http://a.test/', html: '<p data-x="{}">ünïcode "quotes" } 😀</p>', blocked_requests: [] };

  it('splices the fields in before the closing brace and leaves the page bytes as they were', () => {
    const bytes = Buffer.from(JSON.stringify(page));
    const fields = { session: { session_id: 's', state: { metadata: { k: '}' } } }, state_saved: true };
    const reply = withFields(bytes, fields);
    expect(JSON.parse(reply.toString())).toEqual({ ...page, ...fields });
    expect(reply.subarray(0, bytes.length - 1).equals(bytes.subarray(0, bytes.length - 1))).toBe(true);
  });

  it('handles an empty object and no fields', () => {
    expect(withFields(Buffer.from('{}'), { a: 1 }).toString()).toBe('{"a":1}');
    const bytes = Buffer.from(JSON.stringify(page));
    expect(withFields(bytes, {})).toBe(bytes);
  });
});
