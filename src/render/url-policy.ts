import { BadGatewayException, BadRequestException, Injectable, UnprocessableEntityException } from '@nestjs/common';
import { Clock } from '../common/clock';
import { AppConfig } from '../config/app-config';
import { cacheAnswers, EARLY_CHECK_ANSWERS } from '../egress/answer-cache';
import { EgressPolicy } from '../egress/egress-policy';
import { createHostResolver } from '../egress/host-resolver';
import { formatHost } from '../egress/egress-target';
import { parseUpstreamProxy, ProxySetting } from '../egress/upstream-proxy';

/**
 * The API's early check of the URL a client sent (DESIGN §5): the egress policy the renderer's
 * proxy applies to every connection, run once more up front so that a refused URL costs no
 * render and no session request. It is not the fence (redirects, scripts and DNS answers that
 * change are judged by the renderer's egress layer); it answers the obvious cases early. So it
 * may keep a name's answer for its TTL (egress/answer-cache.ts): a render of a named host then
 * waits for no lookup in the API, only for the renderer's own.
 */
@Injectable()
export class UrlPolicy {
  private readonly policy: EgressPolicy;

  constructor(config: AppConfig, clock: Clock) {
    const resolve = cacheAnswers(createHostResolver(config.render_dns_servers), clock, EARLY_CHECK_ANSWERS);
    this.policy = EgressPolicy.fromSettings(config.render_allowed_hosts, resolve);
  }

  /** 400 for a malformed URL, 422 for a refused one (naming the host), 502 for a host that does not resolve. */
  async check(raw: string): Promise<URL> {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new BadRequestException('url must be an absolute http or https URL');
    }
    const verdict = await this.policy.checkUrl(url);
    const host = formatHost(verdict.target.host);
    switch (verdict.outcome) {
      case 'allowed':
        return url;
      case 'refused':
        if (verdict.reason === 'scheme') {
          throw new UnprocessableEntityException(`url scheme '${url.protocol}' is not allowed; use http or https`);
        }
        throw new UnprocessableEntityException(
          `url host '${host}' is refused by the egress policy (${verdict.reason}: ${verdict.address}); it is not allow-listed`,
        );
      case 'unresolved':
        // Not a refusal: the address is unknown, so the page cannot be fetched (as a browser would say).
        throw new BadGatewayException(`url host '${host}' does not resolve`);
    }
  }

  /**
   * A session's own upstream proxy (DESIGN §2): a tenant must not name an internal host as its
   * proxy, so an address given as such passes the same policy here (422 naming it). A host name
   * is not resolved here — session routes do no DNS, and an answer now says nothing of the
   * answer at render time — the renderer's egress layer resolves and judges it at every render.
   */
  async checkProxy(setting: ProxySetting): Promise<void> {
    const upstream = parseUpstreamProxy(setting, false);
    if (typeof upstream === 'string') throw new BadRequestException(`proxy.${upstream}`);
    if (!upstream.target.literal) return;
    const verdict = await this.policy.checkTarget(upstream.target);
    if (verdict.outcome === 'refused') {
      throw new UnprocessableEntityException(
        `proxy host '${formatHost(verdict.target.host)}' is refused by the egress policy (${verdict.reason}); it is not allow-listed`,
      );
    }
  }
}
