import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { SIM_APP, startHarness, type Harness } from '../support/harness';
import { encryptedPush, eventXml } from '../support/wecom-push';

const TOKEN = 'gatewayToken123';
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const wecom = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });
const base = { ToUserName: SIM_APP.corpId, FromUserName: 'zhangsan', CreateTime: '1700000000', MsgType: 'text', AgentID: '1000002' };

describe('CALLBACK_IP_ALLOWLIST=wecom with the ranges getcallbackip announces', () => {
  let h: Harness;
  let pushes = 0;
  beforeAll(async () => {
    // Behind a proxy on loopback, X-Forwarded-For names WeCom's address.
    h = await startHarness({
      env: { WECOM_CALLBACK_TOKEN: TOKEN, WECOM_CALLBACK_AES_KEY: AES_KEY, CALLBACK_IP_ALLOWLIST: 'wecom', TRUST_PROXY: 'loopback' },
    });
  });
  afterAll(() => h.close());

  /** A signed push, as WeCom would send it from `from` (through the proxy), and the gateway's status. */
  async function pushFrom(from: string | undefined): Promise<number> {
    const push = encryptedPush(
      wecom,
      SIM_APP.corpId,
      eventXml({ ...base, Content: `from ${from}`, MsgId: `73000000000009${String(pushes++).padStart(5, '0')}` }),
    );
    const req = h.api.post(`/wecom/callback?${push.query}`).set('content-type', 'text/xml');
    return (await (from ? req.set('X-Forwarded-For', from) : req).send(push.body)).status;
  }

  it('when WeCom announces a range, then pushes from inside it are accepted and from outside it refused', async () => {
    const announced = h.sim.calls.find((c) => c.api === 'getcallbackip' && c.errcode === 0);
    expect(announced).toBeDefined();
    const statuses = Object.fromEntries(
      await Promise.all(
        ['127.0.0.1', '127.0.0.42', '127.255.0.9', '::ffff:127.0.0.7', '::1', '203.0.113.9', '128.0.0.1', '::2'].map(async (from) => [
          from,
          await pushFrom(from),
        ]),
      ),
    );
    console.log(`pushes by source: ${JSON.stringify(statuses)}`);
    expect(statuses).toEqual({
      '127.0.0.1': 200,
      '127.0.0.42': 200,
      '127.255.0.9': 200,
      '::ffff:127.0.0.7': 200,
      '::1': 200,
      '203.0.113.9': 403,
      '128.0.0.1': 403,
      '::2': 403,
    });
  });

  it('when a push comes straight from an address inside the range (no proxy header), then it is accepted', async () => {
    expect(await pushFrom(undefined)).toBe(200);
  });
});
