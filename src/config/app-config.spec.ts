import { ConfigError, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('reads the YAML defaults of DESIGN §7', () => {
    const config = loadConfig({ env: {} });
    expect(config).toMatchObject({
      port: 3000,
      host: '127.0.0.1',
      session_backend: 'memory',
      redis_url: 'redis://127.0.0.1:6379',
      session_default_ttl_seconds: 1800,
      session_cleanup_interval_seconds: 300,
      session_max_sessions: 100000,
      session_max_per_tenant: 10000,
      session_max_bytes_per_tenant: 536870912,
      redis_cluster_nodes: [],
      headless_urls: [],
      headless_port: 9123,
      chromium_path: '/usr/bin/chromium',
      render_timeout_ms: 30000,
      render_allowed_hosts: [],
      api_keys: [],
      metrics_require_key: false,
      log_level: 'info',
    });
  });

  it('lets the environment override, parsing numbers, booleans and lists', () => {
    const config = loadConfig({
      env: {
        PORT: '8080',
        SESSION_BACKEND: 'redis',
        METRICS_REQUIRE_KEY: 'true',
        HEADLESS_URLS: 'http://10.0.0.1:9123, http://10.0.0.2:9123',
        RENDER_ALLOWED_HOSTS: '127.0.0.2,10.0.0.0/8',
        API_KEYS: 'secret-key-1:acme,secret-key-2:globex',
        REDIS_CLUSTER_NODES: 'redis-0.redis:6379, 10.0.0.7:7000,[::1]:7001',
        SESSION_MAX_BYTES_PER_TENANT: '1048576',
      },
    });
    expect(config.redis_cluster_nodes).toEqual(['redis-0.redis:6379', '10.0.0.7:7000', '[::1]:7001']);
    expect(config.session_max_bytes_per_tenant).toBe(1048576);
    expect(config.port).toBe(8080);
    expect(config.session_backend).toBe('redis');
    expect(config.metrics_require_key).toBe(true);
    expect(config.headless_urls).toEqual(['http://10.0.0.1:9123', 'http://10.0.0.2:9123']);
    expect(config.render_allowed_hosts).toEqual(['127.0.0.2', '10.0.0.0/8']);
    expect(config.api_keys).toHaveLength(2);
    expect(config.host).toBe('0.0.0.0');
  });

  it.each([
    ['SESSION_DEFAULT_TTL_SECONDS', 'abc'],
    ['SESSION_BACKEND', 'postgres'],
    ['PORT', '70000'],
    ['REDIS_URL', 'http://localhost'],
    ['REDIS_CLUSTER_NODES', 'redis://10.0.0.7:7000'],
    ['SESSION_MAX_BYTES_PER_TENANT', '-1'],
    ['HEADLESS_URLS', 'not a url'],
    ['API_KEYS', 'short:acme'],
    ['LOG_LEVEL', 'loud'],
    ['RENDER_ALLOWED_HOSTS', '127.0.0.2,10.0.0.0/33'],
    ['RENDER_ALLOWED_HOSTS', '10.0.0.0/8x'],
    ['RENDER_DNS_SERVERS', 'dns.google'],
    ['RENDER_UPSTREAM_PROXY', 'ftp://proxy.example:21'],
  ])('refuses %s=%s with one line naming the key', (key, value) => {
    const attempt = () => loadConfig({ env: { [key]: value } });
    expect(attempt).toThrow(ConfigError);
    expect(attempt).toThrow(new RegExp(`^config error: ${key} `));
    try {
      attempt();
    } catch (err) {
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('names the bad allow-list entry and what is wrong with it', () => {
    expect(() => loadConfig({ env: { RENDER_ALLOWED_HOSTS: '127.0.0.2,10.0.0.0/33' } })).toThrow(
      "config error: RENDER_ALLOWED_HOSTS (render_allowed_hosts) entry '10.0.0.0/33': prefix '/33' must be 0-32, got [\"127.0.0.2\",\"10.0.0.0/33\"]",
    );
  });

  it('never echoes a secret it refuses', () => {
    const attempt = () => loadConfig({ env: { RENDER_UPSTREAM_PROXY: 'ftp://user:hunter2-secret@proxy.example:21' } });
    expect(attempt).toThrow(/^config error: RENDER_UPSTREAM_PROXY \(render_upstream_proxy\) server scheme 'ftp:' is not supported/);
    expect(attempt).not.toThrow(/hunter2/);
  });

  it('accepts the egress keys in their documented forms', () => {
    const config = loadConfig({
      env: { RENDER_DNS_SERVERS: '127.0.0.53,[::1]:5353', RENDER_UPSTREAM_PROXY: 'socks5://u:p@10.0.0.9:1080' },
    });
    expect(config.render_dns_servers).toEqual(['127.0.0.53', '[::1]:5353']);
    expect(config.render_upstream_proxy).toBe('socks5://u:p@10.0.0.9:1080');
  });
});
