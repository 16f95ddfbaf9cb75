import { judgeCdpCommand, navigable, parseCdpCommand } from './cdp-filter';

describe('judgeCdpCommand', () => {
  const egress = { proxyServer: 'http://127.0.0.1:5555', proxyBypassList: '<-loopback>' };
  const judge = (method: string, params?: Record<string, unknown>) => judgeCdpCommand({ id: 1, method, params }, egress);

  it('forwards ordinary commands, also navigations to http(s) and about:blank', () => {
    expect(judge('Runtime.evaluate', { expression: '1' })).toEqual({ kind: 'forward' });
    expect(judge('Page.navigate', { url: 'https://example.com/' })).toEqual({ kind: 'forward' });
    expect(judge('Target.createTarget', { url: 'about:blank' })).toEqual({ kind: 'forward' });
    expect(judge('Target.createBrowserContext', { disposeOnDetach: true })).toEqual({
      kind: 'forward',
      params: { disposeOnDetach: true, ...egress },
    });
  });

  it.each(['file:///etc/passwd', 'chrome://version', 'data:text/html,x', 'javascript:1', 'view-source:http://a.test/', 'not a url'])(
    'refuses navigating to %s',
    (url) => {
      expect(judge('Page.navigate', { url }).kind).toBe('refuse');
      expect(judge('Target.createTarget', { url }).kind).toBe('refuse');
    },
  );

  it('ignores download settings, refuses per-context proxies, file uploads and crashes, closes on Browser.close', () => {
    expect(judge('Browser.setDownloadBehavior', { behavior: 'allow', downloadPath: '/tmp' })).toEqual({ kind: 'ignore' });
    expect(judge('Page.setDownloadBehavior', { behavior: 'allow' })).toEqual({ kind: 'ignore' });
    expect(judge('Target.createBrowserContext', { proxyServer: 'http://10.0.0.1:3128' }).kind).toBe('refuse');
    expect(judge('Target.createBrowserContext', { proxyBypassList: '<-loopback>' }).kind).toBe('refuse');
    expect(judge('DOM.setFileInputFiles', { files: ['/etc/passwd'] }).kind).toBe('refuse');
    expect(judge('Browser.crash').kind).toBe('refuse');
    expect(judge('Browser.close')).toEqual({ kind: 'close' });
  });

  it('navigable: http(s), about:blank and the empty URL only', () => {
    expect(['http://a.test/', 'https://a.test/x', 'about:blank', ''].every(navigable)).toBe(true);
    expect([undefined, 5, 'about:srcdoc', 'ftp://a.test/'].some(navigable)).toBe(false);
  });
});

describe('parseCdpCommand', () => {
  it('takes JSON objects with an integer id and a method', () => {
    expect(parseCdpCommand('{"id":3,"method":"Page.enable","sessionId":"S"}')).toEqual({ id: 3, method: 'Page.enable', sessionId: 'S' });
  });

  it.each(['not json', '[]', 'null', '{"method":"Page.enable"}', '{"id":1.5,"method":"x"}', '{"id":1,"method":"x","params":[]}', '{"id":1,"method":"x","sessionId":5}'])(
    'refuses %s',
    (text) => expect(parseCdpCommand(text)).toBeNull(),
  );

  it('reads a duplicated key once, as the forwarded (re-serialised) message will say', () => {
    const parsed = parseCdpCommand('{"id":1,"method":"Page.navigate","params":{"url":"https://a.test/"},"params":{"url":"file:///etc/passwd"}}');
    expect(judgeCdpCommand(parsed!, { proxyServer: 'http://127.0.0.1:1', proxyBypassList: '<-loopback>' }).kind).toBe('refuse');
    expect(JSON.parse(JSON.stringify(parsed)).params.url).toBe('file:///etc/passwd');
  });
});
