import 'reflect-metadata';
import { Transform } from 'class-transformer';
import { IsInt, IsOptional, IsString, ValidateIf } from 'class-validator';
import { RenderDto } from '../render/dto/render.dto';
import { RenderRequestDto } from '../renderer-rpc';
import { compileFastCheck } from './fast-validation';
import { createValidationPipe } from './validation';

const pipe = createValidationPipe();

/** What the strict pipe makes of a body: the DTO as JSON, or null when it rejects it. */
async function pipeResult(dto: Function, body: unknown): Promise<unknown> {
  try {
    return JSON.parse(JSON.stringify(await pipe.transform(structuredClone(body), { type: 'body', metatype: dto as never })));
  } catch {
    return null;
  }
}

/** The property the check is for: it takes a body only when the pipe accepts it, and unchanged. */
async function expectAgreement(dto: Function, bodies: unknown[]): Promise<void> {
  const check = compileFastCheck(dto);
  for (const body of bodies) {
    if (!check(body)) continue;
    expect({ body, accepted: await pipeResult(dto, body) }).toEqual({ body, accepted: body });
  }
}

interface Corpus {
  /** Valid bodies the check takes. */
  fast: object[];
  /** Valid bodies it leaves to the pipe (nested or per-item rules, keys the pipe strips). */
  pipeOnly: object[];
  /** Bodies the pipe rejects: the check must never take one. */
  invalid: unknown[];
}

/** The check's three promises over a corpus of bodies for `dto`. */
function itKeepsToThePipe(dto: Function, { fast, pipeOnly, invalid }: Corpus): void {
  const check = compileFastCheck(dto);

  it('takes the common valid bodies, as they are', () => {
    for (const body of fast) expect({ body, fast: check(body) }).toEqual({ body, fast: true });
  });

  it('leaves nested options and every invalid body to the pipe', () => {
    for (const body of [...pipeOnly, ...invalid]) expect({ body, fast: check(body) }).toEqual({ body, fast: false });
  });

  it('agrees with the ValidationPipe on the whole corpus: what it takes, the pipe accepts unchanged', async () => {
    await expectAgreement(dto, [...fast, ...pipeOnly, ...invalid]);
    for (const body of invalid) expect({ body, accepted: await pipeResult(dto, body) }).toEqual({ body, accepted: null });
    for (const body of [...fast, ...pipeOnly]) expect(await pipeResult(dto, body)).not.toBeNull();
  });
}

const URL = 'http://127.0.0.2/';

describe('compileFastCheck(RenderDto)', () => {
  const FAST: object[] = [
    { url: URL },
    { url: URL, session_id: 's1' },
    { session_id: 'a.b:c-D_9', url: URL },
    { url: 'not a url: the URL policy judges it after validation' },
    { url: 'h'.repeat(8192) },
    { url: URL, session_id: 'x'.repeat(128) },
    { url: URL, session_id: null },
    { url: URL, wait_for: '#main', scroll_steps: 0 },
    { url: URL, wait_for: null, scroll_steps: 1000 },
  ];
  // Accepted by the pipe, but with nested or per-item rules, or keys the pipe strips: the pipe's.
  const PIPE_ONLY: object[] = [
    { url: URL, constructor: 1 },
    { url: URL, prototype: 'x' },
    { url: URL, timeouts: { hard_cap_ms: 1000 } },
    { url: URL, artifacts: { screenshot: true } },
    { url: URL, actions: [{ type: 'click', css: '#a' }] },
    { url: URL, actions: [] },
  ];
  const INVALID: unknown[] = [
    {},
    { url: 42 },
    { url: null },
    { url: ['http://a/'] },
    { url: { href: URL } },
    { url: 'h'.repeat(8193) },
    { url: URL, bogus: 1 },
    { url: URL, session_id: 'bad id!' },
    { url: URL, session_id: '' },
    { url: URL, session_id: 'x'.repeat(129) },
    { url: URL, session_id: 5 },
    { url: URL, wait_for: '' },
    { url: URL, wait_for: 'x'.repeat(4097) },
    { url: URL, scroll_steps: 1.5 },
    { url: URL, scroll_steps: -1 },
    { url: URL, scroll_steps: 1001 },
    { url: URL, scroll_steps: '3' },
    { url: URL, scroll_steps: true },
    { url: URL, timeouts: { hard_cap_ms: -5 } },
    { url: URL, timeouts: 5 },
    { url: URL, actions: [{ type: 'hover', css: 'a' }] },
    { url: URL, actions: [null] },
    { url: URL, actions: {} },
    // The renderer's fields the API supplies itself.
    { url: URL, context_key: 'a'.repeat(64) },
    { url: URL, queue_key: 'a'.repeat(64) },
    { url: URL, state_seq: 1 },
    { url: URL, storage_state: { cookies: [], origins: [] } },
    { url: URL, proxy: { server: 'http://127.0.0.1:3128' } },
    [],
    [{ url: URL }],
    'http://127.0.0.2/',
    42,
    null,
  ];

  itKeepsToThePipe(RenderDto, { fast: FAST, pipeOnly: PIPE_ONLY, invalid: INVALID });
});

describe('compileFastCheck(RenderRequestDto): the renderer\'s body, with the session\'s state', () => {
  const KEY = 'ab'.repeat(32);
  const cookie = { name: 'sid', value: 'x', domain: '127.0.0.2', path: '/', expires: -1, httpOnly: false, secure: false, sameSite: 'Lax' };
  const state = { cookies: [cookie], origins: [{ origin: 'http://127.0.0.2', localStorage: [{ name: 'k', value: 'v' }] }] };

  const FAST: object[] = [
    { url: URL, context_key: KEY, queue_key: KEY },
    { url: URL, context_key: KEY, queue_key: KEY, storage_state: state, state_seq: 3 },
    { url: URL, context_key: KEY, storage_state: { cookies: [], origins: [] }, state_seq: 0 },
    // Fields Playwright adds in newer versions stay the state's own.
    { url: URL, context_key: KEY, storage_state: { cookies: [{ ...cookie, partitionKey: 'x' }], origins: [] } },
    { url: URL, storage_state: null },
  ];
  const PIPE_ONLY: object[] = [
    { url: URL, context_key: KEY, storage_state: state, timeouts: { hard_cap_ms: 1000 } },
    { url: URL, storage_state: state, proxy: { server: 'http://127.0.0.1:3128' } },
    { url: URL, actions: [{ type: 'click', css: '#a' }], storage_state: state },
  ];
  const INVALID: unknown[] = [
    { url: URL, storage_state: [] },
    { url: URL, storage_state: 'cookies' },
    { url: URL, storage_state: { cookies: [] } },
    { url: URL, storage_state: { cookies: {}, origins: [] } },
    { url: URL, storage_state: { cookies: [5], origins: [] } },
    { url: URL, storage_state: { cookies: [[]], origins: [] } },
    { url: URL, storage_state: { cookies: [], origins: [null] } },
    { url: URL, storage_state: { cookies: [], origins: [], extra: true } },
    { url: URL, storage_state: state, state_seq: -1 },
    { url: URL, context_key: 'AB'.repeat(32), storage_state: state },
    { url: { href: URL }, storage_state: state },
  ];

  itKeepsToThePipe(RenderRequestDto, { fast: FAST, pipeOnly: PIPE_ONLY, invalid: INVALID });
});

describe('compileFastCheck on other decorations', () => {
  class Transformed {
    @IsString() @Transform(({ value }) => String(value).trim()) name: string;
  }
  class Conditional {
    @IsString() kind: string;
    @ValidateIf((o: Conditional) => o.kind === 'n') @IsInt() n?: number;
  }
  class Optional {
    @IsOptional() @IsInt() n?: number;
  }

  it('leaves a property class-transformer changes to the pipe', async () => {
    expect(compileFastCheck(Transformed)({ name: ' a ' })).toBe(false);
    await expectAgreement(Transformed, [{ name: ' a ' }, { name: 'a' }]);
  });

  it('runs ValidateIf conditions as class-validator does', async () => {
    const check = compileFastCheck(Conditional);
    expect(check({ kind: 's', n: 'not checked' })).toBe(true);
    expect(check({ kind: 'n', n: 'x' })).toBe(false);
    expect(check({ kind: 'n', n: 3 })).toBe(true);
    await expectAgreement(Conditional, [{ kind: 's', n: 'not checked' }, { kind: 'n', n: 'x' }, { kind: 'n', n: 3 }, { kind: 'n' }]);
  });

  it('treats a missing required property and an unknown key as the pipe does', async () => {
    expect(compileFastCheck(Conditional)({})).toBe(false);
    expect(compileFastCheck(Optional)({})).toBe(true);
    expect(compileFastCheck(Optional)({ m: 1 })).toBe(false);
    await expectAgreement(Optional, [{}, { n: 1 }, { n: 1.5 }, { m: 1 }]);
  });
});
