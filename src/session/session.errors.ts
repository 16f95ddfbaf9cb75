import { ConflictException, HttpException, HttpStatus, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { retryLater } from '../common/retry-after';

const CAPACITY_RETRY_AFTER_SECONDS = 30;

export const sessionNotFound = (id: string): NotFoundException => new NotFoundException(`session '${id}' not found`);

export const sessionExists = (id: string): ConflictException =>
  new ConflictException(`session '${id}' already exists`);

export const tenantQuotaReached = (live: number, max: number): HttpException =>
  new HttpException(`tenant session quota reached (${live}/${max})`, HttpStatus.TOO_MANY_REQUESTS);

/** No Retry-After: waiting does not free stored bytes (DESIGN §3). */
export const bytesQuotaReached = (bytes: number, max: number): HttpException =>
  new HttpException(`tenant storage quota exceeded: ${bytes}/${max} bytes`, HttpStatus.TOO_MANY_REQUESTS);

/** Sessions expire or are removed, so waiting can clear this one. */
export const capacityReached = (live: number, max: number): ServiceUnavailableException =>
  retryLater(new ServiceUnavailableException(`session capacity reached (${live}/${max})`), CAPACITY_RETRY_AFTER_SECONDS);

/** Its own class so the request-limit guard can answer with RateLimit headers. */
export class RequestLimitReached extends HttpException {
  constructor(
    readonly count: number,
    readonly max: number,
  ) {
    super(`session request limit reached (${count}/${max})`, HttpStatus.TOO_MANY_REQUESTS);
  }
}
