import { BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import { CONTEXT_KEY_PATTERN } from '../renderer-rpc';

/** A :key path parameter: the 64-hex context key of the contract, nothing else. */
@Injectable()
export class ContextKeyPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!CONTEXT_KEY_PATTERN.test(value)) throw new BadRequestException('key must be 64 lowercase hex characters');
    return value;
  }
}
