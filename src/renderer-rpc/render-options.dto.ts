import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsInt, Max, Min } from 'class-validator';
import { SatisfiesRule } from '../common/problem-rule';
import { MAX_DURATION_MS } from './render-action.dto';

export class RenderTimeoutsDto {
  /** Navigation timeout (page load event); default: the hard cap. */
  @ApiPropertyOptional() @IsOptional() @IsInt() @Min(1) @Max(MAX_DURATION_MS) nav_ms?: number;
  /** After load, wait up to this long for network idle; 0 (default) = do not wait. */
  @ApiPropertyOptional() @IsOptional() @IsInt() @Min(0) @Max(MAX_DURATION_MS) idle_after_dcl_ms?: number;
  /** Cap on the whole render; the renderer's configured render_timeout_ms is the default and maximum. */
  @ApiPropertyOptional() @IsOptional() @IsInt() @Min(1) @Max(MAX_DURATION_MS) hard_cap_ms?: number;
}

export class RenderArtifactsDto {
  @ApiPropertyOptional({ description: 'full-page PNG, base64' }) @IsOptional() @IsBoolean() screenshot?: boolean;
  @ApiPropertyOptional({ description: 'MHTML snapshot, base64' }) @IsOptional() @IsBoolean() mhtml?: boolean;
}

/** Playwright's storageState() cookie, as it exports it (documentation of the shape). */
export class StorageStateCookieDto {
  @ApiProperty() name: string;
  @ApiProperty() value: string;
  @ApiProperty() domain: string;
  @ApiProperty() path: string;
  /** Unix seconds; -1 for a session cookie. */
  @ApiProperty() expires: number;
  @ApiProperty() httpOnly: boolean;
  @ApiProperty() secure: boolean;
  @ApiProperty({ enum: ['Strict', 'Lax', 'None'] })
  sameSite: 'Strict' | 'Lax' | 'None';
}

export class LocalStorageEntryDto {
  @ApiProperty() name: string;
  @ApiProperty() value: string;
}

export class StorageStateOriginDto {
  @ApiProperty() origin: string;
  @ApiProperty({ type: () => [LocalStorageEntryDto] })
  localStorage: LocalStorageEntryDto[];
}

/** The most cookies and origins a storage state may hold. */
export const STORAGE_STATE_MAX_COOKIES = 10_000;
export const STORAGE_STATE_MAX_ORIGINS = 1_000;

/**
 * Cookies and localStorage of a browser context (Playwright's storageState format): the shape
 * for the OpenAPI document. Requests check it with IsStorageState.
 */
export class StorageStateDto {
  @ApiProperty({ type: () => [StorageStateCookieDto], maxItems: STORAGE_STATE_MAX_COOKIES })
  cookies: StorageStateCookieDto[];

  @ApiProperty({ type: () => [StorageStateOriginDto], maxItems: STORAGE_STATE_MAX_ORIGINS })
  origins: StorageStateOriginDto[];
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function listProblem(state: Record<string, unknown>, field: 'cookies' | 'origins', max: number): string | null {
  const list = state[field];
  if (!Array.isArray(list)) return `.${field} must be an array`;
  if (list.length > max) return `.${field} must hold at most ${max} entries`;
  const bad = list.findIndex((item) => !isPlainObject(item));
  return bad === -1 ? null : `.${field}.${bad} must be an object`;
}

/**
 * Why a value is not a storage state, naming the part (".cookies must be an array"), or null.
 * Only the outline is checked: the state is whatever Playwright exported (newer versions add
 * fields), and Playwright validates it again when it restores a context from it.
 */
export function storageStateProblem(value: unknown): string | null {
  if (!isPlainObject(value)) return 'must be an object with cookies and origins';
  const extra = Object.keys(value).find((key) => key !== 'cookies' && key !== 'origins');
  if (extra !== undefined) return `.property ${extra} should not exist`;
  return listProblem(value, 'cookies', STORAGE_STATE_MAX_COOKIES) ?? listProblem(value, 'origins', STORAGE_STATE_MAX_ORIGINS);
}

/**
 * The storage state's outline as one rule on the property, not nested validation: a render
 * carries the session's whole state, and class-transformer's copy of it plus class-validator's
 * per-item walk cost the renderer 54-166 µs per body for 5-30 cookies
 * (bench/analysis/render-validation.js); as one rule the body can take the compiled check
 * (common/fast-validation.ts) and is not copied.
 */
export const IsStorageState = (): PropertyDecorator => SatisfiesRule('isStorageState', storageStateProblem);
