import pino from 'pino';
import { loadConfig } from '../../src/config/load';
import { announceSandbox, sandboxReadyLine, startSandbox } from '../../src/main/sandbox';

/** What announceSandbox writes to stderr: the lines a user reads before the JSON log. */
function bannerOf(config: ReturnType<typeof loadConfig>, simulatorUrl: string): string {
  let written = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => ((written += String(chunk)), true));
  try {
    announceSandbox(config, simulatorUrl, pino({ level: 'silent' }));
  } finally {
    spy.mockRestore();
  }
  return written;
}

describe('the sandbox start banner', () => {
  it("when the sandbox starts, then it prints the callback settings the simulator pushes with (URL, Token, EncodingAESKey, corp id) and the simulator's members", async () => {
    const sandbox = await startSandbox(loadConfig({ PORT: '8080', LOG_LEVEL: 'silent' }), { port: 0 });
    try {
      const [app] = sandbox.config.apps;
      const banner = bannerOf(sandbox.config, sandbox.simulator.url);
      expect(banner).toContain('URL http://localhost:8080/wecom/callback');
      expect(banner).toContain(`Token ${app.callback!.token}`);
      expect(banner).toContain(`EncodingAESKey ${app.callback!.aesKey}`);
      expect(banner).toContain('corp id wwsandbox000000001');
      expect(banner).toMatch(/members: zhangsan, lisi, wangwu, .*other userids come back invalid/);
      expect(banner).toContain(`${sandbox.simulator.url}/__sim/messages`);
    } finally {
      await sandbox.stop();
    }
  });

  it("when the callback is the real corp's (callback-only), then its Token and EncodingAESKey are never printed", async () => {
    const token = 'realCorpToken42';
    const aesKey = 'RealCorpKey0123456789abcdefghijklmnopqrstuv';
    const sandbox = await startSandbox(
      loadConfig({ WECOM_CORP_ID: 'ww1234567890', WECOM_CALLBACK_TOKEN: token, WECOM_CALLBACK_AES_KEY: aesKey, LOG_LEVEL: 'silent' }),
      { port: 0 },
    );
    try {
      const banner = bannerOf(sandbox.config, sandbox.simulator.url);
      expect(banner).toContain('corp id ww1234567890');
      expect(banner).toContain('Token: WECOM_CALLBACK_TOKEN');
      expect(banner).not.toContain(token);
      expect(banner).not.toContain(aesKey);
    } finally {
      await sandbox.stop();
    }
  });

  it("when the gateway listens on every interface (HOST=0.0.0.0, as in its container), then no line claims the container's loopback is the address to open", async () => {
    const config = loadConfig({ HOST: '0.0.0.0', PORT: '8080', LOG_LEVEL: 'silent' });
    const sandbox = await startSandbox(config, { port: 0 });
    try {
      const banner = bannerOf(sandbox.config, sandbox.simulator.url);
      expect(banner).toMatch(/simulator .*loopback.*SIMULATOR_PUBLIC_URL/);
      expect(banner).toContain('URL http://<this host>:8080/wecom/callback');
      expect(banner).not.toContain('localhost');
      const ready = sandboxReadyLine(sandbox.config, 8080);
      expect(ready).not.toContain('http://localhost:8080 ·');
      expect(ready).toMatch(/every interface.*8080.*published/);
    } finally {
      await sandbox.stop();
    }
  });

  it('when the gateway listens on loopback, then the ready line is the address to open', () => {
    expect(sandboxReadyLine(loadConfig({ LOG_LEVEL: 'silent' }), 8080)).toBe(
      'sandbox: the gateway is ready at http://localhost:8080 · API docs ' +
        'http://localhost:8080/docs · dashboard http://localhost:8080/dashboard/',
    );
  });
});
