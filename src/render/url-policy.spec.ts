import { HttpException } from '@nestjs/common';
import { loadConfig } from '../config/app-config';
import { UrlPolicy } from './url-policy';

const DNS: Record<string, string[]> = {
  'public.test': ['93.184.216.34'],
  'localhost.test': ['127.0.0.1'],
  'metadata.test': ['169.254.169.254'],
  'mixed.test': ['93.184.216.34', '10.1.2.3'],
  'site.test': ['127.0.0.2'],
  'v6local.test': ['::1'],
  'mapped.test': ['::ffff:192.168.1.1'],
};

function policy(allowed: string[] = []): UrlPolicy {
  const p = new UrlPolicy(loadConfig({ env: {}, overrides: { render_allowed_hosts: allowed } }));
  p.useResolver(async (host) => DNS[host] ?? []);
  return p;
}

async function statusOf(promise: Promise<unknown>): Promise<number> {
  try {
    await promise;
    return 200;
  } catch (err) {
    return (err as HttpException).getStatus();
  }
}

describe('UrlPolicy', () => {
  it.each([
    'file:///etc/passwd',
    'javascript:alert(1)',
    'ftp://public.test/',
    'data:text/html,hi',
    'http://169.254.169.254/latest/meta-data/',
    'http://metadata.test/',
    'http://127.0.0.1:3000/',
    'http://localhost.test/',
    'http://[::1]/',
    'http://v6local.test/',
    'http://mapped.test/',
    'http://mixed.test/',
    'http://10.0.0.5/',
    'http://192.168.0.1/',
    'http://[fd00:ec2::254]/',
    'http://0.0.0.0/',
  ])('refuses %s with 422', async (url) => {
    expect(await statusOf(policy().check(url))).toBe(422);
  });

  it('answers 502 for a host that does not resolve', async () => {
    expect(await statusOf(policy().check('http://nxdomain.test/'))).toBe(502);
  });

  it('answers 400 for something that is not a URL', async () => {
    expect(await statusOf(policy().check('not a url'))).toBe(400);
  });

  it('allows public addresses', async () => {
    await expect(policy().check('https://public.test/path?q=1')).resolves.toBeInstanceOf(URL);
    await expect(policy().check('http://93.184.216.34/')).resolves.toBeInstanceOf(URL);
  });

  it('allows listed hosts, addresses and ranges only', async () => {
    const p = policy(['127.0.0.2', 'metadata.test', '10.0.0.0/8']);
    await expect(p.check('http://127.0.0.2:8080/')).resolves.toBeInstanceOf(URL);
    await expect(p.check('http://site.test/')).resolves.toBeInstanceOf(URL);
    await expect(p.check('http://metadata.test/')).resolves.toBeInstanceOf(URL);
    await expect(p.check('http://10.9.9.9/')).resolves.toBeInstanceOf(URL);
    expect(await statusOf(p.check('http://127.0.0.1/'))).toBe(422);
    expect(await statusOf(p.check('http://localhost.test/'))).toBe(422);
    expect(await statusOf(p.check('file:///etc/passwd'))).toBe(422);
  });
});
