import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Dispatcher } from 'undici';
import { createChat, getChat, sendToChat, updateChat } from '../../src/wecom/endpoints/appchat';
import { robotSend } from '../../src/wecom/endpoints/robot';
import { errcodeHint } from '../../src/wecom/errcodes';
import type { RobotEndpoint } from '../../src/wecom/group-chat';
import { redactUrl, WecomTransport } from '../../src/wecom/transport';

const KEY = 'secret-key-123';

describe('a group robot call never shows its key', () => {
  let server: Server;
  let base: string;
  let answer: { status: number; body: unknown };
  let seenUrl = '';
  let seenBody = '';

  beforeAll(async () => {
    server = createServer((req, res) => {
      seenUrl = req.url ?? '';
      seenBody = '';
      req.on('data', (chunk: Buffer) => (seenBody += chunk.toString()));
      req.on('end', () => res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const endpoint = (apiBase: string): RobotEndpoint => ({ robot: 'ops', label: 'ops', apiBase, key: KEY });

  it('when the robot address is unreachable, then the outcome is a retry and its JSON does not hold the key', async () => {
    const client = new WecomTransport({ apiBase: 'http://127.0.0.1:1', timeoutMs: 2_000 });
    try {
      const outcome = await client.call(robotSend({ msgtype: 'text', text: { content: 'hi' } }), { robot: endpoint('http://127.0.0.1:9') });
      expect(outcome.kind).toBe('retry');
      expect(JSON.stringify(outcome)).not.toContain(KEY);
      expect(JSON.stringify(outcome)).toContain('webhook/send');
    } finally {
      await client.close();
    }
  });

  it('when a network error message quotes the URL, then the errmsg names the api and not the key', async () => {
    class Leaky extends Dispatcher {
      override dispatch(options: Dispatcher.DispatchOptions): boolean {
        throw new Error(`cannot reach ${String(options.origin)}${options.path} (${KEY})`);
      }
    }
    const client = new WecomTransport({ apiBase: 'http://127.0.0.1:1', timeoutMs: 2_000 }, new Leaky());
    const outcome = await client.call(robotSend({}), { robot: endpoint('http://127.0.0.1:9') });
    expect(outcome.kind).toBe('retry');
    expect(outcome.kind !== 'ok' && outcome.error.errmsg).toBe(
      'webhook/send: cannot reach http://127.0.0.1:9/cgi-bin/webhook/send?key=*** (***)',
    );
  });

  it('when WeCom answers 93000 with an errmsg that quotes the key, then it is permanent and the key is redacted', async () => {
    answer = { status: 200, body: { errcode: 93000, errmsg: `invalid webhook url, key=${KEY}, see ${KEY}` } };
    const calls: string[] = [];
    const client = new WecomTransport({ apiBase: 'http://127.0.0.1:1', timeoutMs: 2_000, onCall: (api) => calls.push(api) });
    try {
      const outcome = await client.call(robotSend({ msgtype: 'text', text: { content: 'hi' } }), { robot: endpoint(`${base}/`) });
      expect(outcome.kind).toBe('permanent');
      expect(JSON.stringify(outcome)).not.toContain(KEY);
      // The robot's own apiBase was called (trailing slash dropped), with the key in the query.
      expect(seenUrl).toBe(`/cgi-bin/webhook/send?key=${KEY}`);
      expect(calls).toEqual(['webhook/send']);
    } finally {
      await client.close();
    }
  });

  it('when a robot is over its 20 messages a minute (45009), then it is a retry after the throttle', async () => {
    answer = { status: 200, body: { errcode: 45009, errmsg: 'api freq out of limit' } };
    const client = new WecomTransport({
      apiBase: 'http://127.0.0.1:1',
      timeoutMs: 2_000,
      throttleMs: (code) => (code === 45009 ? 60_000 : undefined),
    });
    try {
      expect(await client.call(robotSend({}), { robot: endpoint(base) })).toEqual({
        kind: 'retry',
        error: { errcode: 45009, errmsg: 'api freq out of limit' },
        afterMs: 60_000,
      });
    } finally {
      await client.close();
    }
  });

  it('when a URL holds a key, a token or a secret, then redactUrl hides each', () => {
    expect(redactUrl(`https://x/cgi-bin/webhook/send?key=${KEY}&debug=1`)).toBe('https://x/cgi-bin/webhook/send?key=***&debug=1');
    expect(redactUrl('/gettoken?corpid=c&corpsecret=s3&x=1 /send?access_token=t0')).toBe(
      '/gettoken?corpid=c&corpsecret=***&x=1 /send?access_token=***',
    );
  });

  it('when a robot key or an app chat is refused, then the hint says why without any key', () => {
    expect(errcodeHint(93000)).toMatch(/webhook key is not valid/);
    expect(errcodeHint(86003)).toMatch(/only chats the app created/);
    expect(errcodeHint(86001)).toBe('invalid chatid');
  });

  describe('app group chats', () => {
    let client: WecomTransport;
    beforeEach(() => (client = new WecomTransport({ apiBase: base, timeoutMs: 2_000 })));
    afterEach(() => client.close());

    it('when appchat/get answers, then chat_info.userlist becomes users', async () => {
      answer = {
        status: 200,
        body: { errcode: 0, errmsg: 'ok', chat_info: { chatid: 'ops1', name: 'Ops', owner: 'zhangsan', userlist: ['zhangsan', 'lisi'] } },
      };
      expect(await client.call(getChat('ops1'), { token: 'tok' })).toEqual({
        kind: 'ok',
        value: { chatid: 'ops1', name: 'Ops', owner: 'zhangsan', users: ['zhangsan', 'lisi'] },
      });
      expect(seenUrl).toBe('/cgi-bin/appchat/get?access_token=tok&chatid=ops1');
    });

    it.each([86003, 86001])('when WeCom answers %i, then a send, an update or a get is notFound', async (errcode) => {
      answer = { status: 200, body: { errcode, errmsg: 'chat not found' } };
      expect((await client.call(sendToChat({}), { token: 'tok' })).kind).toBe('notFound');
      expect((await client.call(updateChat({ chatid: 'x' }), { token: 'tok' })).kind).toBe('notFound');
      expect((await client.call(getChat('x'), { token: 'tok' })).kind).toBe('notFound');
    });

    it('when members are added and removed, then WeCom gets add_user_list and del_user_list', async () => {
      answer = { status: 200, body: { errcode: 0, errmsg: 'ok' } };
      expect(await client.call(updateChat({ chatid: 'ops1', addUsers: ['a'], removeUsers: ['b'] }), { token: 'tok' })).toEqual({
        kind: 'ok',
        value: true,
      });
      expect(JSON.parse(seenBody)).toEqual({ chatid: 'ops1', add_user_list: ['a'], del_user_list: ['b'] });
    });

    it('when a chat is created, then userlist carries its users and the chatid WeCom chose is returned', async () => {
      answer = { status: 200, body: { errcode: 0, errmsg: 'ok', chatid: 'gen42' } };
      expect(await client.call(createChat({ name: 'Ops', users: ['a', 'b'] }), { token: 'tok' })).toEqual({
        kind: 'ok',
        value: { chatid: 'gen42' },
      });
      expect(JSON.parse(seenBody)).toEqual({ name: 'Ops', userlist: ['a', 'b'] });
      expect(seenUrl).toBe('/cgi-bin/appchat/create?access_token=tok');
    });
  });
});
