import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load';
import { ExtensionLoadError } from '../../src/callback/extensions';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { eventually, SIM_APP, startHarness, type Harness } from '../support/harness';
import { encryptedPush, eventXml } from '../support/wecom-push';

const TOKEN = 'extTokenSecret42';
const AES_KEY = 'ExtAesKey0123456789abcdefghijklmnopqrstuvwx';
const FIXTURES = join(__dirname, '..', 'fixtures', 'extensions');

describe('extensions named in the config file', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: { WECOM_CALLBACK_TOKEN: TOKEN, WECOM_CALLBACK_AES_KEY: AES_KEY },
      config: (c) => ({ ...c, extensions: [join(FIXTURES, 'oncall-ack.js')] }),
    });
  });
  afterAll(() => h.close());

  it('when a member clicks the menu item an extension registered, then its rule runs and the message it sends is delivered', async () => {
    const crypto = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });
    const click = eventXml({
      ToUserName: SIM_APP.corpId,
      FromUserName: 'lisi',
      CreateTime: '1700000100',
      MsgType: 'event',
      Event: 'click',
      EventKey: 'ack_all',
      AgentID: '1000002',
    });
    const push = encryptedPush(crypto, SIM_APP.corpId, click);
    expect((await h.api.post(`/wecom/callback?${push.query}`).set('content-type', 'text/xml').send(push.body)).status).toBe(200);
    const sent = await eventually(() => h.sim.sent.find((m) => JSON.stringify(m.body).includes('acknowledged every open alert')));
    expect(sent.touser).toEqual(['lisi']);
    expect((sent.body.text as { content: string }).content).toBe('【INFO】Acknowledged\nlisi acknowledged every open alert');
  });

  it('when an extension exports no function, then the gateway refuses to start, naming the module', async () => {
    await expect(startHarness({ config: (c) => ({ ...c, extensions: [join(FIXTURES, 'broken.js')] }) })).rejects.toThrow(
      ExtensionLoadError,
    );
    await expect(startHarness({ config: (c) => ({ ...c, extensions: [join(FIXTURES, 'broken.js')] }) })).rejects.toThrow(
      /broken\.js: exports no function/,
    );
  });

  it('when the config file lists extensions, then they are found relative to the file, and a missing one is a configuration error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgw-ext-'));
    try {
      writeFileSync(join(dir, 'rules.js'), 'module.exports = () => {};');
      writeFileSync(join(dir, 'gateway.yaml'), 'extensions: [./rules.js]\n');
      expect(loadConfig({ GATEWAY_CONFIG: join(dir, 'gateway.yaml') }).extensions).toEqual([join(dir, 'rules.js')]);
      writeFileSync(join(dir, 'gateway.yaml'), 'extensions: [./missing.js]\n');
      expect(() => loadConfig({ GATEWAY_CONFIG: join(dir, 'gateway.yaml') })).toThrow(ConfigError);
      expect(() => loadConfig({ GATEWAY_CONFIG: join(dir, 'gateway.yaml') })).toThrow(`extensions.0: no file ${join(dir, 'missing.js')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
