import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { WecomSimulator } from '../../src/simulator/simulator';
import { post, type Answer } from '../support/simulator-http';

/** The simulator's group robots (reference §13) and app group chats (§14), over real HTTP. */

const APP_A = { corpId: 'wwgroupchats00001', agentId: 1000002, secret: 'secret-a' };
const APP_B = { corpId: 'wwgroupchats00001', agentId: 1000003, secret: 'secret-b' };
const KEY = '693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa';
const OTHER_KEY = 'b2c3d4e5-0000-4000-8000-000000000001';

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(64, 7)]);
const JPG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(64, 3)]);
const md5 = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');
const image = (bytes: Buffer, hash = md5(bytes)) => ({ msgtype: 'image', image: { base64: bytes.toString('base64'), md5: hash } });
const text = (content: string, extra: Record<string, unknown> = {}) => ({ msgtype: 'text', text: { content, ...extra } });

async function get(url: string): Promise<Answer> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

async function upload(url: string, bytes: Buffer, filename = 'report.txt'): Promise<Answer> {
  const form = new FormData();
  form.append('media', new Blob([bytes]), filename);
  const res = await fetch(url, { method: 'POST', body: form });
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}

describe('the simulator: group robots and app group chats', () => {
  let sim: WecomSimulator;
  const robot = (key: string = KEY) => `${sim.url}/cgi-bin/webhook/send?key=${encodeURIComponent(key)}`;
  const robotUpload = (type: string, key: string = KEY) =>
    `${sim.url}/cgi-bin/webhook/upload_media?key=${encodeURIComponent(key)}&type=${type}`;
  const tokenOf = async (app: typeof APP_A) =>
    (await get(`${sim.url}/cgi-bin/gettoken?corpid=${app.corpId}&corpsecret=${app.secret}`)).access_token as string;
  const appchat = async (api: string, body: unknown, app = APP_A) =>
    post(`${sim.url}/cgi-bin/appchat/${api}?access_token=${await tokenOf(app)}`, body);
  const chatInfo = async (chatid: string, app = APP_A) =>
    get(`${sim.url}/cgi-bin/appchat/get?access_token=${await tokenOf(app)}&chatid=${encodeURIComponent(chatid)}`);
  const robotFile = async (type: 'file' | 'voice', key: string = KEY) =>
    (await upload(robotUpload(type, key), Buffer.from('#!AMR\nsome audio bytes'))).media_id as string;

  beforeAll(async () => {
    sim = await WecomSimulator.start({ apps: [APP_A, APP_B] });
  });
  afterAll(() => sim.stop());
  beforeEach(() => sim.reset());

  describe('webhook/send', () => {
    it('when each msgtype a robot takes is sent, then each is answered ok and recorded with what sat under its msgtype', async () => {
      const file = await robotFile('file');
      const voice = await robotFile('voice');
      const bodies = [
        text('disk 95% on db1', { mentioned_list: ['zhangsan', '@all'], mentioned_mobile_list: ['13800001111'] }),
        { msgtype: 'markdown', markdown: { content: '**disk** <font color="warning">95%</font> <@lisi>' } },
        { msgtype: 'markdown_v2', markdown_v2: { content: '| host | disk |\n| --- | --- |\n| db1 | 95% |' } },
        image(PNG),
        image(JPG, md5(JPG).toUpperCase()),
        {
          msgtype: 'news',
          news: { articles: [{ title: 'Incident 42', url: 'https://status.example/42', picurl: 'https://status.example/42.png' }] },
        },
        { msgtype: 'file', file: { media_id: file } },
        { msgtype: 'voice', voice: { media_id: voice } },
        {
          msgtype: 'template_card',
          template_card: {
            card_type: 'text_notice',
            main_title: { title: 'CPU high' },
            card_action: { type: 1, url: 'https://grafana.example' },
          },
        },
        {
          msgtype: 'template_card',
          template_card: {
            card_type: 'news_notice',
            main_title: { title: 'Deploy' },
            card_image: { url: 'https://x.example/a.png' },
            card_action: { type: 1, url: 'https://x.example' },
          },
        },
      ];
      for (const body of bodies) expect(await post(robot(), body)).toEqual({ errcode: 0, errmsg: 'ok' });

      expect(sim.robotSent.map((m) => m.msgtype)).toEqual([
        'text',
        'markdown',
        'markdown_v2',
        'image',
        'image',
        'news',
        'file',
        'voice',
        'template_card',
        'template_card',
      ]);
      expect(sim.robotSent[0]).toMatchObject({
        key: KEY,
        body: { content: 'disk 95% on db1' },
        mentioned: ['zhangsan', '@all'],
        mentionedMobiles: ['13800001111'],
      });
      expect(sim.robotSent[1].mentioned).toEqual(['lisi']);
      expect(sim.robotSent[2].mentioned).toBeUndefined();
      expect(sim.robotDeliveriesTo(KEY)).toHaveLength(10);
      expect(sim.robotDeliveriesTo(OTHER_KEY)).toHaveLength(0);
      expect(sim.calls.filter((c) => c.api === 'webhook/send' && c.errcode === 0)).toHaveLength(10);
    });

    const big = Buffer.concat([PNG, Buffer.alloc(2 << 20)]);
    const refused: { what: string; body: unknown; errcode: number; errmsg?: string }[] = [
      { what: 'an unknown msgtype', body: { msgtype: 'mpnews', mpnews: { articles: [] } }, errcode: 40008 },
      { what: 'no msgtype', body: { text: { content: 'x' } }, errcode: 40008 },
      { what: 'no body under the msgtype', body: { msgtype: 'text' }, errcode: 40058 },
      { what: 'empty text', body: text(''), errcode: 44004 },
      { what: 'text over 2048 bytes', body: text('警'.repeat(683)), errcode: 40058, errmsg: 'text.content exceed max length 2048' },
      { what: 'a mentioned_list that is not a list of strings', body: text('x', { mentioned_list: 'zhangsan' }), errcode: 40058 },
      { what: 'a mentioned_mobile_list holding a number', body: text('x', { mentioned_mobile_list: [13800001111] }), errcode: 40058 },
      { what: 'empty markdown', body: { msgtype: 'markdown', markdown: { content: '' } }, errcode: 44004 },
      {
        what: 'markdown over 4096 bytes',
        body: { msgtype: 'markdown', markdown: { content: 'x'.repeat(4097) } },
        errcode: 40058,
        errmsg: 'markdown.content exceed max length 4096',
      },
      {
        what: 'markdown_v2 over 4096 bytes',
        body: { msgtype: 'markdown_v2', markdown_v2: { content: 'x'.repeat(4097) } },
        errcode: 40058,
        errmsg: 'markdown_v2.content exceed max length 4096',
      },
      {
        what: 'an image with no md5',
        body: { msgtype: 'image', image: { base64: PNG.toString('base64') } },
        errcode: 40058,
        errmsg: 'image needs base64 and md5 strings',
      },
      {
        what: 'an image that is not base64',
        body: { msgtype: 'image', image: { base64: 'not base64!', md5: md5(PNG) } },
        errcode: 40058,
        errmsg: 'image base64 invalid',
      },
      { what: 'a GIF', body: image(Buffer.from('GIF89a-----------')), errcode: 40058, errmsg: 'image is neither JPG nor PNG' },
      { what: 'an image over 2 MB', body: image(big), errcode: 40058, errmsg: 'image size exceeds 2 MB' },
      { what: 'an image whose md5 is of other bytes', body: image(PNG, md5(JPG)), errcode: 40058, errmsg: 'image md5 mismatch' },
      { what: 'news without articles', body: { msgtype: 'news', news: { articles: [] } }, errcode: 40058 },
      {
        what: 'news with 9 articles',
        body: { msgtype: 'news', news: { articles: Array(9).fill({ title: 't', url: 'https://x.example' }) } },
        errcode: 40058,
      },
      { what: 'an article without a title', body: { msgtype: 'news', news: { articles: [{ url: 'https://x.example' }] } }, errcode: 40058 },
      {
        what: 'an article with an ftp url',
        body: { msgtype: 'news', news: { articles: [{ title: 't', url: 'ftp://x.example' }] } },
        errcode: 40058,
      },
      {
        what: 'a file never uploaded',
        body: { msgtype: 'file', file: { media_id: '3nosuchmedia' } },
        errcode: 40007,
        errmsg: 'invalid media_id',
      },
      {
        what: 'an interactive card',
        body: { msgtype: 'template_card', template_card: { card_type: 'button_interaction', task_id: 't1' } },
        errcode: 40058,
        errmsg: 'robots take text_notice and news_notice cards only',
      },
      { what: 'a body that is not JSON', body: '{"msgtype":', errcode: 40058, errmsg: 'invalid json' },
    ];
    it.each(refused)(
      'when a robot is sent $what, then WeCom answers errcode $errcode and nothing is delivered',
      async ({ body, errcode, errmsg }) => {
        const answer = await post(robot(), body);
        expect(answer.errcode).toBe(errcode);
        if (errmsg) expect(answer.errmsg).toContain(errmsg);
        // Decorated as WeCom decorates its errmsg.
        expect(answer.errmsg).toContain(`more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}`);
        expect(sim.robotSent).toHaveLength(0);
      },
    );

    it('when a robot is sent a 21st message within a minute, then it answers 45009 and delivers nothing', async () => {
      for (let i = 1; i <= 20; i++) expect((await post(robot(), text(`alert ${i}`))).errcode).toBe(0);
      const answer = await post(robot(), text('alert 21'));
      expect(answer.errcode).toBe(45009);
      expect(answer.errmsg).toContain('api freq out of limit');
      expect(sim.robotSent).toHaveLength(20);
      expect(sim.robotSent.some((m) => m.body.content === 'alert 21')).toBe(false);
      // The limit is per robot: another key still has its own 20.
      expect((await post(robot(OTHER_KEY), text('elsewhere'))).errcode).toBe(0);
    });

    it('when refused messages were sent, then they did not use up the window', async () => {
      for (let i = 0; i < 25; i++) expect((await post(robot(), text(''))).errcode).toBe(44004);
      for (let i = 1; i <= 20; i++) expect((await post(robot(), text(`alert ${i}`))).errcode).toBe(0);
      expect(sim.robotSent).toHaveLength(20);
    });

    it('when the window has passed, then the robot takes messages again (robotLimit shortens it)', async () => {
      const short = await WecomSimulator.start({ robotLimit: { count: 2, windowMs: 300 } });
      try {
        const send = (content: string) => post(`${short.url}/cgi-bin/webhook/send?key=${KEY}`, text(content));
        expect((await send('1')).errcode).toBe(0);
        expect((await send('2')).errcode).toBe(0);
        expect((await send('3')).errcode).toBe(45009);
        await sleep(350);
        expect((await send('4')).errcode).toBe(0);
        expect(short.robotSent.map((m) => m.body.content)).toEqual(['1', '2', '4']);
      } finally {
        await short.stop();
      }
    });

    it('when the key is missing, malformed, not among robotKeys, or revoked, then WeCom answers 93000', async () => {
      expect((await post(`${sim.url}/cgi-bin/webhook/send`, text('x'))).errcode).toBe(93000);
      expect((await post(robot('not a key!'), text('x'))).errcode).toBe(93000);
      const listed = await WecomSimulator.start({ robotKeys: [KEY] });
      try {
        expect((await post(`${listed.url}/cgi-bin/webhook/send?key=${KEY}`, text('x'))).errcode).toBe(0);
        const unknown = await post(`${listed.url}/cgi-bin/webhook/send?key=${OTHER_KEY}`, text('x'));
        expect(unknown).toMatchObject({ errcode: 93000 });
        expect(unknown.errmsg).toContain('invalid webhook url');
      } finally {
        await listed.stop();
      }

      expect((await post(robot(), text('before removal'))).errcode).toBe(0);
      sim.revokeRobotKey(KEY);
      expect((await post(robot(), text('after removal'))).errcode).toBe(93000);
      expect((await upload(robotUpload('file'), Buffer.from('some file'))).errcode).toBe(93000);
      expect(sim.robotSent.map((m) => m.body.content)).toEqual(['before removal']);
    });

    it('when a fault is injected on webhook/send, then the next send answers it', async () => {
      sim.failNext(1, { errcode: -1, errmsg: 'system busy' }, 'webhook/send');
      expect((await post(robot(), text('x'))).errcode).toBe(-1);
      expect((await post(robot(), text('x'))).errcode).toBe(0);
    });
  });

  describe('webhook/upload_media', () => {
    it('when a file is uploaded, then it answers a media_id the same robot can send', async () => {
      const answer = await upload(robotUpload('file'), Buffer.from('quarterly report'), 'report.txt');
      expect(answer).toMatchObject({
        errcode: 0,
        errmsg: 'ok',
        type: 'file',
        media_id: expect.any(String),
        created_at: expect.stringMatching(/^\d+$/),
      });
      expect(await post(robot(), { msgtype: 'file', file: { media_id: answer.media_id } })).toEqual({ errcode: 0, errmsg: 'ok' });
    });

    it("when another robot's media_id is sent, then it answers 40007", async () => {
      const mediaId = await robotFile('file', OTHER_KEY);
      expect((await post(robot(), { msgtype: 'file', file: { media_id: mediaId } })).errcode).toBe(40007);
      expect((await post(robot(OTHER_KEY), { msgtype: 'file', file: { media_id: mediaId } })).errcode).toBe(0);
    });

    it('when a voice id is sent as a file, or an app media/upload id is sent, then it answers 40007', async () => {
      const voice = await robotFile('voice');
      expect((await post(robot(), { msgtype: 'file', file: { media_id: voice } })).errcode).toBe(40007);
      const appMedia = await upload(
        `${sim.url}/cgi-bin/media/upload?access_token=${await tokenOf(APP_A)}&type=file`,
        Buffer.from('app file bytes'),
      );
      expect(appMedia.errcode).toBe(0);
      expect((await post(robot(), { msgtype: 'file', file: { media_id: appMedia.media_id } })).errcode).toBe(40007);
    });

    it('when a media_id is 3 days old, then it answers 40007', async () => {
      const mediaId = await robotFile('file');
      const now = Date.now();
      const clock = jest.spyOn(Date, 'now').mockReturnValue(now + 3 * 86_400_000);
      try {
        expect((await post(robot(), { msgtype: 'file', file: { media_id: mediaId } })).errcode).toBe(40007);
      } finally {
        clock.mockRestore();
      }
    });

    it('when the type, the size or the multipart body is wrong, then it answers as WeCom does', async () => {
      expect((await upload(robotUpload('image'), PNG)).errcode).toBe(40005);
      expect((await upload(robotUpload('file'), Buffer.from('tiny'))).errcode).toBe(40006);
      expect((await upload(robotUpload('voice'), Buffer.alloc((2 << 20) + 1, 1))).errcode).toBe(45001);
      expect((await post(robotUpload('file'), { media: 'not multipart' })).errcode).toBe(40058);
    });
  });

  describe('appchat', () => {
    it('when a chat is created without chatid or owner, then it gets 32 alphanumerics and its first member as owner', async () => {
      const answer = await appchat('create', { name: 'oncall', userlist: ['zhangsan', 'lisi', 'wangwu'] });
      expect(answer).toMatchObject({ errcode: 0, errmsg: 'ok', chatid: expect.stringMatching(/^[0-9a-zA-Z]{32}$/) });
      const chatid = answer.chatid as string;
      expect(await chatInfo(chatid)).toEqual({
        errcode: 0,
        errmsg: 'ok',
        chat_info: { chatid, name: 'oncall', owner: 'zhangsan', userlist: ['zhangsan', 'lisi', 'wangwu'] },
      });
      expect(sim.chats.get(chatid)).toMatchObject({ agentId: APP_A.agentId, owner: 'zhangsan' });
    });

    const badCreates: { what: string; body: Record<string, unknown>; errcode: number; errmsg?: string }[] = [
      { what: 'one member', body: { userlist: ['zhangsan'] }, errcode: 40058 },
      { what: 'no userlist', body: { name: 'x' }, errcode: 40058 },
      { what: '2001 members', body: { userlist: Array.from({ length: 2001 }, (_, i) => `user${i}`) }, errcode: 40058 },
      { what: 'a member twice', body: { userlist: ['zhangsan', 'ZhangSan'] }, errcode: 40058, errmsg: 'duplicates' },
      { what: 'a malformed userid', body: { userlist: ['zhangsan', 'li si'] }, errcode: 40003 },
      {
        what: 'an owner who is not a member',
        body: { userlist: ['zhangsan', 'lisi'], owner: 'wangwu' },
        errcode: 40058,
        errmsg: 'owner must be in userlist',
      },
      { what: 'a chatid with a dash', body: { userlist: ['zhangsan', 'lisi'], chatid: 'ops-chat' }, errcode: 40058 },
      { what: 'a 33-character chatid', body: { userlist: ['zhangsan', 'lisi'], chatid: 'a'.repeat(33) }, errcode: 40058 },
    ];
    it.each(badCreates)('when a chat is created with $what, then it answers $errcode', async ({ body, errcode, errmsg }) => {
      const answer = await appchat('create', body);
      expect(answer.errcode).toBe(errcode);
      if (errmsg) expect(answer.errmsg).toContain(errmsg);
      expect(sim.chats.size).toBe(0);
    });

    it('when a chat is created with a chatid that exists, then it answers 40058 chatid exists', async () => {
      expect(await appchat('create', { chatid: 'ops1', userlist: ['zhangsan', 'lisi'], owner: 'lisi' })).toMatchObject({
        errcode: 0,
        chatid: 'ops1',
      });
      const again = await appchat('create', { chatid: 'ops1', userlist: ['zhangsan', 'lisi'] }, APP_B);
      expect(again.errcode).toBe(40058);
      expect(again.errmsg).toContain('chatid exists');
      expect((await chatInfo('ops1')).chat_info).toMatchObject({ owner: 'lisi' });
    });

    it('when the directory does not know a member, then create answers 60111', async () => {
      const strict = await WecomSimulator.start({ apps: [APP_A], directory: { users: ['zhangsan', 'lisi'] } });
      try {
        const token = (await get(`${strict.url}/cgi-bin/gettoken?corpid=${APP_A.corpId}&corpsecret=${APP_A.secret}`))
          .access_token as string;
        expect(
          (await post(`${strict.url}/cgi-bin/appchat/create?access_token=${token}`, { userlist: ['zhangsan', 'nobody'] })).errcode,
        ).toBe(60111);
        expect((await post(`${strict.url}/cgi-bin/appchat/create?access_token=${token}`, { userlist: ['zhangsan', 'lisi'] })).errcode).toBe(
          0,
        );
      } finally {
        await strict.stop();
      }
    });

    it('when appchat is called without a valid token, then it answers as message/send does', async () => {
      expect((await post(`${sim.url}/cgi-bin/appchat/create`, { userlist: ['zhangsan', 'lisi'] })).errcode).toBe(41001);
      expect((await post(`${sim.url}/cgi-bin/appchat/send?access_token=nope`, { chatid: 'x' })).errcode).toBe(40014);
    });

    it('when a chat is updated, then get shows its new name, owner and members', async () => {
      await appchat('create', { chatid: 'ops2', name: 'ops', userlist: ['zhangsan', 'lisi'] });
      expect(
        await appchat('update', {
          chatid: 'ops2',
          name: 'ops oncall',
          owner: 'wangwu',
          add_user_list: ['wangwu', 'lisi'],
          del_user_list: ['zhangsan'],
        }),
      ).toEqual({ errcode: 0, errmsg: 'ok' });
      expect((await chatInfo('ops2')).chat_info).toEqual({
        chatid: 'ops2',
        name: 'ops oncall',
        owner: 'wangwu',
        userlist: ['lisi', 'wangwu'],
      });
    });

    it('when an update removes the owner without naming a new one, or every member, then it answers 40058 and changes nothing', async () => {
      await appchat('create', { chatid: 'ops3', userlist: ['zhangsan', 'lisi'] });
      const ownerGone = await appchat('update', { chatid: 'ops3', name: 'renamed', del_user_list: ['zhangsan'] });
      expect(ownerGone.errcode).toBe(40058);
      expect(ownerGone.errmsg).toContain('owner must be a member');
      expect((await appchat('update', { chatid: 'ops3', del_user_list: ['zhangsan', 'lisi'] })).errcode).toBe(40058);
      expect((await appchat('update', { chatid: 'ops3', add_user_list: ['bad id'] })).errcode).toBe(40003);
      expect((await chatInfo('ops3')).chat_info).toEqual({ chatid: 'ops3', name: '', owner: 'zhangsan', userlist: ['zhangsan', 'lisi'] });
    });

    it("when a chat is unknown or another app's, then update, get and send answer 86003", async () => {
      await appchat('create', { chatid: 'appAchat', userlist: ['zhangsan', 'lisi'] });
      for (const app of [APP_A, APP_B]) {
        const chatid = app === APP_A ? 'nosuchchat' : 'appAchat';
        expect((await appchat('update', { chatid, name: 'x' }, app)).errcode).toBe(86003);
        const info = await chatInfo(chatid, app);
        expect(info.errcode).toBe(86003);
        expect(info.errmsg).toContain('chat not found');
        expect((await appchat('send', { chatid, ...text('x') }, app)).errcode).toBe(86003);
      }
      expect((await appchat('send', text('no chatid'))).errcode).toBe(86001);
      expect(sim.chatSent).toHaveLength(0);
    });

    it('when messages are sent to a chat, then they are checked as message/send bodies and recorded', async () => {
      await appchat('create', { chatid: 'ops4', userlist: ['zhangsan', 'lisi'] });
      const token = await tokenOf(APP_A);
      const media = await upload(`${sim.url}/cgi-bin/media/upload?access_token=${token}&type=image`, PNG, 'chart.png');
      const sends = [
        { chatid: 'ops4', ...text('disk full', { mentioned_list: ['lisi', '@all'] }) },
        { chatid: 'ops4', msgtype: 'markdown', markdown: { content: '**disk** <font color="warning">full</font> <@zhangsan>' } },
        {
          chatid: 'ops4',
          msgtype: 'textcard',
          textcard: { title: 'Disk', description: '<div class="highlight">full</div>', url: 'https://x.example' },
        },
        { chatid: 'ops4', msgtype: 'image', image: { media_id: media.media_id }, safe: 1 },
      ];
      for (const body of sends) expect(await appchat('send', body)).toEqual({ errcode: 0, errmsg: 'ok' });
      expect(sim.chatSent.map((m) => m.msgtype)).toEqual(['text', 'markdown', 'textcard', 'image']);
      expect(sim.chatSent[0]).toMatchObject({
        chatid: 'ops4',
        agentid: APP_A.agentId,
        body: { content: 'disk full' },
        mentioned: ['lisi', '@all'],
      });
      expect(sim.chatSent[1].mentioned).toEqual(['zhangsan']);
    });

    const badSends: { what: string; body: Record<string, unknown>; errcode: number }[] = [
      { what: 'a template_card', body: { msgtype: 'template_card', template_card: { card_type: 'text_notice' } }, errcode: 40008 },
      { what: 'a miniprogram_notice', body: { msgtype: 'miniprogram_notice', miniprogram_notice: { appid: 'x' } }, errcode: 40008 },
      { what: 'no msgtype', body: { text: { content: 'x' } }, errcode: 40008 },
      { what: 'empty text', body: text(''), errcode: 44004 },
      { what: 'text over 2048 bytes', body: text('x'.repeat(2049)), errcode: 45002 },
      { what: 'a mentioned_list with a malformed userid', body: text('x', { mentioned_list: ['li si'] }), errcode: 40058 },
      {
        what: 'markup WeCom does not render',
        body: { msgtype: 'textcard', textcard: { title: 'Disk', description: '<div class="red">full</div>', url: 'https://x.example' } },
        errcode: 40058,
      },
      { what: 'an image never uploaded', body: { msgtype: 'image', image: { media_id: '3nosuchmedia' } }, errcode: 40007 },
    ];
    it.each(badSends)('when a chat is sent $what, then it answers $errcode and delivers nothing', async ({ body, errcode }) => {
      await appchat('create', { chatid: 'ops5', userlist: ['zhangsan', 'lisi'] });
      expect((await appchat('send', { chatid: 'ops5', ...body })).errcode).toBe(errcode);
      expect(sim.chatSent).toHaveLength(0);
    });

    it("when a robot's media_id is sent to a chat, then it answers 40007", async () => {
      await appchat('create', { chatid: 'ops6', userlist: ['zhangsan', 'lisi'] });
      const mediaId = await robotFile('file');
      expect((await appchat('send', { chatid: 'ops6', msgtype: 'file', file: { media_id: mediaId } })).errcode).toBe(40007);
    });
  });

  describe('controls', () => {
    it('when robots and chats delivered, then /__sim/messages lists them (robot keys masked) beside the app messages, and /__sim/stats counts them', async () => {
      await post(robot(), text('robot says'));
      await appchat('create', { chatid: 'ops7', userlist: ['zhangsan', 'lisi'] });
      await appchat('send', { chatid: 'ops7', ...text('chat says') });
      const listing = (await (await fetch(`${sim.url}/__sim/messages`)).json()) as {
        messages: unknown[];
        robots: Record<string, unknown>[];
        chats: Record<string, unknown>[];
      };
      expect(listing.messages).toEqual([]);
      expect(listing.robots).toEqual([expect.objectContaining({ key: '693a…', msgtype: 'text', body: { content: 'robot says' } })]);
      expect(JSON.stringify(listing)).not.toContain(KEY);
      expect(listing.chats).toEqual([
        expect.objectContaining({ chatid: 'ops7', agentid: APP_A.agentId, msgtype: 'text', body: { content: 'chat says' } }),
      ]);
      const stats = (await (await fetch(`${sim.url}/__sim/stats`)).json()) as Record<string, number>;
      expect(stats).toMatchObject({ robotSent: 1, chatSent: 1, sent: 0 });
    });

    it('when /__sim/messages is given a limit, then robots and chats keep their last ones only', async () => {
      for (const n of [1, 2, 3]) await post(robot(), text(`robot ${n}`));
      const { robots } = (await (await fetch(`${sim.url}/__sim/messages?limit=2`)).json()) as { robots: { body: { content: string } }[] };
      expect(robots.map((r) => r.body.content)).toEqual(['robot 2', 'robot 3']);
    });

    it('when the simulator is reset, then robot and chat state is gone: deliveries, chats, media, windows, revoked keys', async () => {
      const mediaId = await robotFile('file');
      for (let i = 0; i < 20; i++) await post(robot(OTHER_KEY), text(`n${i}`));
      expect((await post(robot(OTHER_KEY), text('full'))).errcode).toBe(45009);
      sim.revokeRobotKey(KEY);
      await appchat('create', { chatid: 'ops8', userlist: ['zhangsan', 'lisi'] });
      await appchat('send', { chatid: 'ops8', ...text('x') });

      expect((await post(`${sim.url}/__sim/reset`, {})).ok).toBe(true);
      expect(sim.robotSent).toHaveLength(0);
      expect(sim.chatSent).toHaveLength(0);
      expect(sim.chats.size).toBe(0);
      expect((await post(robot(OTHER_KEY), text('room again'))).errcode).toBe(0);
      expect((await post(robot(), text('key works again'))).errcode).toBe(0);
      expect((await post(robot(), { msgtype: 'file', file: { media_id: mediaId } })).errcode).toBe(40007);
      expect((await chatInfo('ops8')).errcode).toBe(86003);
    });
  });
});
