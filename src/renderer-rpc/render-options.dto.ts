import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsObject,
  IsOptional,
  IsInt,
  Max,
  Min,
} from 'class-validator';
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

/**
 * Cookies and localStorage of a browser context (Playwright's storageState format). Only the
 * outline is checked here: the state is whatever Playwright exported (newer versions add
 * fields), and Playwright validates it again when it restores a context from it.
 */
export class StorageStateDto {
  @ApiProperty({ type: () => [StorageStateCookieDto] })
  @IsArray() @ArrayMaxSize(10_000) @IsObject({ each: true })
  cookies: StorageStateCookieDto[];

  @ApiProperty({ type: () => [StorageStateOriginDto] })
  @IsArray() @ArrayMaxSize(1_000) @IsObject({ each: true })
  origins: StorageStateOriginDto[];
}
