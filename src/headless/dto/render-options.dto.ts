import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsNumber,
  IsOptional,
  IsString,
  IsInt,
  Max,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';
import { MAX_DURATION_MS } from './render-action.dto';

export class RenderTimeoutsDto {
  /** Navigation timeout (page load event); default: the hard cap. */
  @IsOptional() @IsInt() @Min(1) @Max(MAX_DURATION_MS) nav_ms?: number;
  /** After load, wait up to this long for network idle; 0 (default) = do not wait. */
  @IsOptional() @IsInt() @Min(0) @Max(MAX_DURATION_MS) idle_after_dcl_ms?: number;
  /** Cap on the whole render; the renderer's configured render_timeout_ms is the default and maximum. */
  @IsOptional() @IsInt() @Min(1) @Max(MAX_DURATION_MS) hard_cap_ms?: number;
}

export class RenderArtifactsDto {
  @IsOptional() @IsBoolean() screenshot?: boolean;
  @IsOptional() @IsBoolean() mhtml?: boolean;
}

/** Playwright's storageState() cookie, as it exports it. */
export class StorageStateCookieDto {
  @IsString() @MaxLength(4096) name: string;
  @IsString() @MaxLength(16_384) value: string;
  @IsString() @MaxLength(1024) domain: string;
  @IsString() @MaxLength(4096) path: string;
  /** Unix seconds; -1 for a session cookie. */
  @IsNumber() expires: number;
  @IsBoolean() httpOnly: boolean;
  @IsBoolean() secure: boolean;
  @IsIn(['Strict', 'Lax', 'None']) sameSite: 'Strict' | 'Lax' | 'None';
}

export class LocalStorageEntryDto {
  @IsString() name: string;
  @IsString() value: string;
}

export class StorageStateOriginDto {
  @IsString() @MaxLength(2048) origin: string;
  @IsArray() @ValidateNested({ each: true }) @Type(() => LocalStorageEntryDto) localStorage: LocalStorageEntryDto[];
}

/** Cookies and localStorage of a browser context (Playwright's storageState format). */
export class StorageStateDto {
  @IsArray() @ArrayMaxSize(10_000) @ValidateNested({ each: true }) @Type(() => StorageStateCookieDto)
  cookies: StorageStateCookieDto[];

  @IsArray() @ArrayMaxSize(1_000) @ValidateNested({ each: true }) @Type(() => StorageStateOriginDto)
  origins: StorageStateOriginDto[];
}
