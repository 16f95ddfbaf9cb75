import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
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

/** Playwright's storageState() cookie, as it exports it. */
export class StorageStateCookieDto {
  @ApiProperty() @IsString() @MaxLength(4096) name: string;
  @ApiProperty() @IsString() @MaxLength(16_384) value: string;
  @ApiProperty() @IsString() @MaxLength(1024) domain: string;
  @ApiProperty() @IsString() @MaxLength(4096) path: string;
  /** Unix seconds; -1 for a session cookie. */
  @ApiProperty() @IsNumber() expires: number;
  @ApiProperty() @IsBoolean() httpOnly: boolean;
  @ApiProperty() @IsBoolean() secure: boolean;
  @ApiProperty({ enum: ['Strict', 'Lax', 'None'] })
  @IsIn(['Strict', 'Lax', 'None']) sameSite: 'Strict' | 'Lax' | 'None';
}

export class LocalStorageEntryDto {
  @ApiProperty() @IsString() name: string;
  @ApiProperty() @IsString() value: string;
}

export class StorageStateOriginDto {
  @ApiProperty() @IsString() @MaxLength(2048) origin: string;
  @ApiProperty({ type: () => [LocalStorageEntryDto] })
  @IsArray() @ValidateNested({ each: true }) @Type(() => LocalStorageEntryDto) localStorage: LocalStorageEntryDto[];
}

/** Cookies and localStorage of a browser context (Playwright's storageState format). */
export class StorageStateDto {
  @ApiProperty({ type: () => [StorageStateCookieDto] })
  @IsArray() @ArrayMaxSize(10_000) @ValidateNested({ each: true }) @Type(() => StorageStateCookieDto)
  cookies: StorageStateCookieDto[];

  @ApiProperty({ type: () => [StorageStateOriginDto] })
  @IsArray() @ArrayMaxSize(1_000) @ValidateNested({ each: true }) @Type(() => StorageStateOriginDto)
  origins: StorageStateOriginDto[];
}
