import { Injectable, PipeTransform } from '@nestjs/common';
import type { ProxySetting } from '../egress/upstream-proxy';
import { UrlPolicy } from './url-policy';

/**
 * Session bodies (create, get-or-create, patch) whose `proxy` names a host the egress policy
 * refuses are answered 422 before anything is stored. Runs after validation (a parameter pipe).
 */
@Injectable()
export class ProxyPolicyPipe implements PipeTransform {
  constructor(private readonly urlPolicy: UrlPolicy) {}

  async transform<T extends { proxy?: ProxySetting | null }>(body: T): Promise<T> {
    if (body?.proxy) await this.urlPolicy.checkProxy(body.proxy);
    return body;
  }
}
