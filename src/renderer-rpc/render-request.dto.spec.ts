import { ArgumentMetadata, BadRequestException } from '@nestjs/common';
import { createValidationPipe } from '../common/validation';
import { ClickActionDto, ScrollActionDto, TypeActionDto } from './render-action.dto';
import { RenderRequestDto } from './render-request.dto';

const meta: ArgumentMetadata = { type: 'body', metatype: RenderRequestDto };

async function validate(body: unknown): Promise<RenderRequestDto> {
  return createValidationPipe().transform(body, meta) as Promise<RenderRequestDto>;
}

async function messages(body: unknown): Promise<string[]> {
  try {
    await validate(body);
  } catch (e) {
    expect(e).toBeInstanceOf(BadRequestException);
    return ((e as BadRequestException).getResponse() as { message: string[] }).message;
  }
  throw new Error('expected a validation error');
}

describe('RenderRequestDto', () => {
  it('accepts a full body and instantiates each action as its own class', async () => {
    const dto = await validate({
      url: 'http://127.0.0.2:8080/login',
      context_key: 'ab'.repeat(32),
      wait_for: '#main',
      scroll_steps: 2,
      actions: [
        { type: 'click', css: '#btn' },
        { type: 'type', css: '#name', text: 'hi', delay_ms: 5 },
        { type: 'scroll', steps: 1, step_px: 100, delay_ms: 0, timeout_ms: 1000 },
      ],
      timeouts: { nav_ms: 1000, idle_after_dcl_ms: 0, hard_cap_ms: 2000 },
      artifacts: { screenshot: true, mhtml: false },
      storage_state: {
        cookies: [
          { name: 'sid', value: 'x', domain: '127.0.0.2', path: '/', expires: -1, httpOnly: false, secure: false, sameSite: 'Lax' },
        ],
        origins: [{ origin: 'http://127.0.0.2:8080', localStorage: [{ name: 'token', value: 't' }] }],
      },
    });
    expect(dto.actions?.[0]).toBeInstanceOf(ClickActionDto);
    expect(dto.actions?.[1]).toBeInstanceOf(TypeActionDto);
    expect(dto.actions?.[2]).toBeInstanceOf(ScrollActionDto);
    expect(dto.actions?.map((a) => a.type)).toEqual(['click', 'type', 'scroll']);
  });

  it.each([
    [{ url: 'ftp://example.com/' }, /^url /],
    [{ url: 'javascript:alert(1)' }, /^url /],
    [{}, /^url /],
    [{ url: 'http://a.test/', extra: 1 }, /^property extra should not exist/],
    [{ url: 'http://a.test/', context_key: 'has space' }, /^context_key /],
    [{ url: 'http://a.test/', context_key: 'AB'.repeat(32) }, /^context_key /],
    [{ url: `http://a.test/${'x'.repeat(8200)}` }, /^url /],
    [{ url: 'http://a.test/', actions: [{ type: 'hover', css: '#a' }] }, /^actions\.0\.type must be one of/],
    [{ url: 'http://a.test/', actions: [{ css: '#a' }] }, /^actions\.0\.type /],
    [{ url: 'http://a.test/', actions: [{ type: 'click' }] }, /^actions\.0\.css /],
    [{ url: 'http://a.test/', actions: [{ type: 'click', css: '#a', bogus: 1 }] }, /^actions\.0\.property bogus should not exist/],
    [{ url: 'http://a.test/', actions: [{ type: 'scroll', steps: 1.5 }] }, /^actions\.0\.steps /],
    [{ url: 'http://a.test/', actions: 'click' }, /^actions /],
    [{ url: 'http://a.test/', timeouts: { hard_cap_ms: 0 } }, /^timeouts\.hard_cap_ms /],
    [{ url: 'http://a.test/', timeouts: { total_ms: 5 } }, /^timeouts\.property total_ms should not exist/],
    [{ url: 'http://a.test/', artifacts: { screenshot: 'yes' } }, /^artifacts\.screenshot /],
    [{ url: 'http://a.test/', storage_state: { cookies: 'sid=1', origins: [] } }, /^storage_state\.cookies /],
    [{ url: 'http://a.test/', storage_state: { cookies: [5], origins: [] } }, /^storage_state\.cookies\.0 must be an object/],
    [{ url: 'http://a.test/', storage_state: { cookies: [] } }, /^storage_state\.origins must be an array/],
    [{ url: 'http://a.test/', storage_state: { cookies: [], origins: [{}, null] } }, /^storage_state\.origins\.1 must be an object/],
    [{ url: 'http://a.test/', storage_state: { cookies: [], origins: [], extra: 1 } }, /^storage_state\.property extra should not exist/],
    [{ url: 'http://a.test/', storage_state: [] }, /^storage_state must be an object with cookies and origins/],
    [{ url: 'http://a.test/', storage_state: { cookies: Array.from({ length: 10_001 }, () => ({})), origins: [] } }, /^storage_state\.cookies must hold at most 10000 entries/],
  ])('rejects %j naming the field', async (body, pattern) => {
    const found = await messages(body);
    expect(found.some((m) => pattern.test(m))).toBe(true);
  });

  it.each([[null], ['click'], [42]])('rejects a non-object action (%j) as a 400, not a crash', async (action) => {
    const found = await messages({ url: 'http://a.test/', actions: [action] });
    expect(found.join('\n')).toMatch(/actions/);
  });
});
