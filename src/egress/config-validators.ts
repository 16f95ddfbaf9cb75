import { ValidateBy, ValidationArguments } from 'class-validator';
import { AllowList } from './allow-list';
import { dnsServerProblem } from './host-resolver';
import { parseUpstreamProxy } from './upstream-proxy';

/**
 * Config validators for the egress keys: each names the bad entry in one line, so a typo in
 * RENDER_ALLOWED_HOSTS stops the process with `config error: RENDER_ALLOWED_HOSTS …`, not a stack.
 */
function listValidator(name: string, problemOf: (list: string[]) => string | null): PropertyDecorator {
  return ValidateBy({
    name,
    validator: {
      validate: (value: unknown) => Array.isArray(value) && value.every((v) => typeof v === 'string') && problemOf(value) === null,
      defaultMessage: (args?: ValidationArguments) =>
        Array.isArray(args?.value) ? (problemOf(args.value.map(String)) ?? 'must be a list') : 'must be a list',
    },
  });
}

/** RENDER_ALLOWED_HOSTS: host names, IP addresses and CIDR ranges. */
export const IsAllowList = (): PropertyDecorator =>
  listValidator('isAllowList', (entries) => {
    const parsed = AllowList.parse(entries);
    return 'problem' in parsed ? parsed.problem : null;
  });

/** RENDER_DNS_SERVERS: `ip[:port]` entries. */
export const IsDnsServers = (): PropertyDecorator =>
  listValidator('isDnsServers', (entries) => entries.map(dnsServerProblem).find((p) => p !== null) ?? null);

/** RENDER_UPSTREAM_PROXY: empty, or `http://[user:pass@]host:port` / `socks5://…`. */
export const IsUpstreamProxyUrl = (): PropertyDecorator =>
  ValidateBy({
    name: 'isUpstreamProxyUrl',
    validator: {
      validate: (value: unknown) => value === '' || (typeof value === 'string' && typeof parseUpstreamProxy({ server: value }, true) !== 'string'),
      defaultMessage: (args?: ValidationArguments) => {
        const problem = typeof args?.value === 'string' ? parseUpstreamProxy({ server: args.value }, true) : null;
        return typeof problem === 'string' ? problem : 'must be a proxy URL';
      },
    },
  });
