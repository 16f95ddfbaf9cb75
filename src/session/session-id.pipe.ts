import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { SESSION_ID_PATTERN } from './session';

/** Rejects a malformed :id before it reaches the store. */
@Injectable()
export class SessionIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!SESSION_ID_PATTERN.test(value)) {
      throw new BadRequestException('session_id must be 1-128 characters of [A-Za-z0-9._:-]');
    }
    return value;
  }
}
