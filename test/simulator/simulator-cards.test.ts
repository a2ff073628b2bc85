import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { updateTemplateCard } from '../../src/wecom/endpoints/message';
import { WecomSimulator } from '../../src/simulator/simulator';
import { parseCallbackXml } from '../../src/wecom/callback/xml';
import { asApp } from '../support/wecom-app';
import { post, type Answer } from '../support/simulator-http';

/** The simulator's interactive cards (reference §2.3, §2.4, §15) over real HTTP: response codes, updates and clicks. */

const APP_A = { corpId: 'wwcards0000000001', agentId: 1000002, secret: 'secret-a' };
const APP_B = { corpId: 'wwcards0000000001', agentId: 1000003, secret: 'secret-b' };
const TOKEN = 'cardsToken1';
const AES_KEY = 'CardsDemoKey0123456789abcdefghijklmnopqrstu';

type App = typeof APP_A;

const buttonCard = (taskId: string, extra: Record<string, unknown> = {}) => ({
  card_type: 'button_interaction',
  task_id: taskId,
  main_title: { title: 'CPU high on web-3', desc: 'firing since 10:02' },
  button_list: [
    { text: 'Ack', style: 1, key: 'ack' },
    { text: 'Silence 1h', style: 2, key: 'silence1h' },
    { text: 'Runbook', type: 1, url: 'https://wiki.example/runbook' },
  ],
  ...extra,
});
const cardMessage = (card: Record<string, unknown>, extra: Record<string, unknown> = {}, app: App = APP_A) => ({
  touser: 'zhangsan|lisi',
  msgtype: 'template_card',
  agentid: app.agentId,
  template_card: card,
  ...extra,
});

/** The app's callback URL, as the gateway would serve it: each push verified, decrypted and kept; `status` is its answer. */
async function startReceiver() {
  const crypto = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: APP_A.corpId });
  const receiver = { pushes: [] as string[], status: 200, server: undefined as unknown as Server, url: '' };
  const app = express();
  app.post('/wecom/callback', express.text({ type: () => true }), (req, res) => {
    const encrypted = /<Encrypt><!\[CDATA\[([^\]]*)\]\]><\/Encrypt>/.exec(String(req.body))?.[1] ?? '';
    const { msg_signature: msgSignature, timestamp, nonce } = req.query as Record<string, string>;
    receiver.pushes.push(crypto.verifyAndDecrypt({ msgSignature, timestamp, nonce, encrypted }));
    res.status(receiver.status).send(receiver.status === 200 ? 'success' : 'failed');
  });
  receiver.server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => receiver.server.once('listening', resolve));
  receiver.url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/wecom/callback`;
  return receiver;
}

describe('the simulator: interactive cards', () => {
  let sim: WecomSimulator;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const tokenOf = async (app: App) => {
    const res = await fetch(`${sim.url}/cgi-bin/gettoken?corpid=${app.corpId}&corpsecret=${app.secret}`);
    return ((await res.json()) as Answer).access_token as string;
  };
  const send = async (body: unknown, app: App = APP_A) => post(`${sim.url}/cgi-bin/message/send?access_token=${await tokenOf(app)}`, body);
  const update = async (body: Record<string, unknown>, app: App = APP_A) =>
    post(`${sim.url}/cgi-bin/message/update_template_card?access_token=${await tokenOf(app)}`, body);
  const replaceName = (responseCode: unknown, name = 'Acked') => ({
    userids: ['zhangsan'],
    agentid: APP_A.agentId,
    response_code: responseCode,
    button: { replace_name: name },
  });
  const click = async (body: Record<string, unknown>) => {
    const res = await fetch(`${sim.url}/__sim/click`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  beforeAll(async () => {
    sim = await WecomSimulator.start({ apps: [APP_A, APP_B], memberLimits: [] });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    receiver.server.closeAllConnections();
    await new Promise((resolve) => receiver.server.close(resolve));
    await sim.stop();
  });
  beforeEach(() => {
    sim.reset();
    receiver.pushes.length = 0;
    receiver.status = 200;
    sim.deliverCallbacksTo({ url: receiver.url, token: TOKEN, aesKey: AES_KEY, corpId: APP_A.corpId, agentId: APP_A.agentId });
  });

  describe('message/send', () => {
    it("when a button_interaction card is sent, then the answer carries a response_code, and a textcard's answer does not", async () => {
      const card = await send(cardMessage(buttonCard('alert-42-ack')));
      expect(card).toMatchObject({ errcode: 0, msgid: expect.any(String), response_code: expect.stringMatching(/^[\w-]{16,}$/) });
      const textcard = await send({
        touser: 'zhangsan',
        msgtype: 'textcard',
        agentid: APP_A.agentId,
        textcard: { title: 'CPU high', description: 'web-3', url: 'https://grafana.example' },
      });
      expect(textcard.errcode).toBe(0);
      expect(textcard).not.toHaveProperty('response_code');
      expect(sim.cards.map((c) => c.taskId)).toEqual(['alert-42-ack']);
    });

    it("when a card is resent byte for byte with the duplicate check, then the answer is the first one's (same msgid and response_code), not a reused task_id", async () => {
      const raw = JSON.stringify(cardMessage(buttonCard('alert-43-ack'), { enable_duplicate_check: 1, duplicate_check_interval: 600 }));
      const first = await send(raw);
      const again = await send(raw);
      expect(first.errcode).toBe(0);
      expect(again).toMatchObject({ errcode: 0, msgid: first.msgid, response_code: first.response_code });
      expect(sim.cards).toHaveLength(1);
      expect(sim.duplicatesAbsorbed).toBe(1);
    });

    it('when a card reuses a task_id of the same app, then it is refused with 40058 naming the task_id, while another app may use it', async () => {
      expect((await send(cardMessage(buttonCard('alert-44-ack')))).errcode).toBe(0);
      const reused = await send(cardMessage(buttonCard('alert-44-ack', { main_title: { title: 'a different card' } })));
      expect(reused.errcode).toBe(40058);
      expect(reused.errmsg).toMatch(/^invalid parameter: task_id alert-44-ack already used/);
      expect(reused).not.toHaveProperty('response_code');
      expect((await send(cardMessage(buttonCard('alert-44-ack'), {}, APP_B), APP_B)).errcode).toBe(0);
      expect(sim.cards.map((c) => [c.agentid, c.taskId])).toEqual([
        [APP_A.agentId, 'alert-44-ack'],
        [APP_B.agentId, 'alert-44-ack'],
      ]);
    });

    it.each([
      { what: 'a card without task_id', card: buttonCard('x', { task_id: undefined }), errmsg: 'task_id required' },
      { what: 'a card whose task_id has a space', card: buttonCard('alert 45'), errmsg: 'task_id required, 1 to 128 bytes' },
      {
        what: 'a vote card without task_id',
        card: { card_type: 'vote_interaction', main_title: { title: 'Vote' } },
        errmsg: 'task_id required',
      },
      {
        what: 'a notice card with an action menu but no task_id',
        card: {
          card_type: 'text_notice',
          main_title: { title: 'x' },
          action_menu: { desc: 'm', action_list: [{ text: 'mute', key: 'mute' }] },
        },
        errmsg: 'task_id required',
      },
      { what: 'a card without buttons', card: buttonCard('alert-45', { button_list: [] }), errmsg: 'button_list must hold 1 to 6 buttons' },
      {
        what: 'a card with 7 buttons',
        card: buttonCard('alert-45', { button_list: Array.from({ length: 7 }, (_, i) => ({ text: `b${i}`, key: `k${i}` })) }),
        errmsg: 'button_list must hold 1 to 6 buttons',
      },
      {
        what: 'a card with a duplicated key',
        card: buttonCard('alert-45', {
          button_list: [
            { text: 'a', key: 'ack' },
            { text: 'b', key: 'ack' },
          ],
        }),
        errmsg: 'button_list.1.key duplicated',
      },
      {
        what: 'a card with a key of 1025 bytes',
        card: buttonCard('alert-45', { button_list: [{ text: 'a', key: 'k'.repeat(1025) }] }),
        errmsg: 'button_list.0.key exceeds 1024 bytes',
      },
      {
        what: 'a url button without an http(s) URL',
        card: buttonCard('alert-45', { button_list: [{ text: 'a', type: 1, url: 'wiki/runbook' }] }),
        errmsg: 'button_list.0.url must be an http(s) URL',
      },
      {
        what: 'a card with 7 horizontal items',
        card: buttonCard('alert-45', { horizontal_content_list: Array.from({ length: 7 }, () => ({ keyname: 'k', value: 'v' })) }),
        errmsg: 'horizontal_content_list holds at most 6 items',
      },
    ])('when message/send gets $what, then it answers 40058 saying so and records no card', async ({ card, errmsg }) => {
      const answer = await send(cardMessage(card as Record<string, unknown>));
      expect(answer.errcode).toBe(40058);
      expect(answer.errmsg).toContain(errmsg);
      expect(sim.cards).toHaveLength(0);
    });
  });

  describe('message/update_template_card', () => {
    it('when the send\'s response_code updates the card through the client, then it works once and a second use is refused with 40058 "used or expired"', async () => {
      const { response_code: code } = await send(cardMessage(buttonCard('alert-46-ack')));
      const newCard = buttonCard('alert-46-ack', {
        main_title: { title: 'CPU high on web-3', desc: 'acked by zhangsan' },
        button_list: [{ text: 'Acked', style: 4, key: 'done' }],
      });
      const change = { responseCode: String(code), to: { users: ['zhangsan'], parties: ['2'] }, card: newCard };
      const first = await asApp(sim.url, APP_A, updateTemplateCard({ agentId: APP_A.agentId, ...change }));
      expect(first).toEqual({ kind: 'ok', value: true });
      const second = await asApp(sim.url, APP_A, updateTemplateCard({ agentId: APP_A.agentId, ...change }));
      expect(second).toMatchObject({
        kind: 'permanent',
        error: { errcode: 40058, errmsg: expect.stringContaining('response_code used or expired') },
      });
      expect(sim.cards[0].card).toEqual(newCard);
      expect(sim.cards[0].updates).toEqual([
        {
          responseCode: code,
          kind: 'send',
          template_card: newCard,
          userids: ['zhangsan'],
          partyids: [2],
          tagids: [],
          at: expect.any(Number),
        },
      ]);
      expect(sim.calls.filter((c) => c.api === 'message/update_template_card').map((c) => c.errcode)).toEqual([0, 40058]);
    });

    it("when an update is refused (another app's agentid, an unknown one, both changes, another task_id, 1001 userids, another app's token), then the code stays usable", async () => {
      const { response_code: code } = await send(cardMessage(buttonCard('alert-47-ack')));
      expect((await update({ ...replaceName(code), agentid: APP_B.agentId })).errcode).toBe(301002);
      expect((await update({ ...replaceName(code), agentid: 999 })).errcode).toBe(40056);
      const both = await update({ ...replaceName(code), template_card: buttonCard('alert-47-ack') });
      expect(both).toMatchObject({ errcode: 40058, errmsg: expect.stringContaining('either template_card or button.replace_name') });
      const otherTask = await update({ agentid: APP_A.agentId, response_code: code, template_card: buttonCard('alert-99') });
      expect(otherTask).toMatchObject({ errcode: 40058, errmsg: expect.stringContaining("task_id must be the card's (alert-47-ack)") });
      const badCard = await update({
        agentid: APP_A.agentId,
        response_code: code,
        template_card: buttonCard('alert-47-ack', { button_list: [] }),
      });
      expect(badCard.errmsg).toContain('button_list must hold 1 to 6 buttons');
      const tooMany = await update({ ...replaceName(code), userids: Array.from({ length: 1001 }, (_, i) => `u${i}`) });
      expect(tooMany.errcode).toBe(40032);
      expect((await update({ ...replaceName(code), agentid: APP_B.agentId }, APP_B)).errmsg).toContain('response_code used or expired');
      expect(sim.cards[0].updates).toEqual([]);
      expect(await update(replaceName(code))).toEqual({ errcode: 0, errmsg: 'ok' });
      expect(sim.cards[0].buttonText).toBe('Acked');
    });

    it('when a fault is injected into update_template_card, then the next call answers it and uses no code', async () => {
      const { response_code: code } = await send(cardMessage(buttonCard('alert-48-ack')));
      sim.failNext(1, { errcode: -1, errmsg: 'system busy' }, 'message/update_template_card');
      expect((await update(replaceName(code))).errcode).toBe(-1);
      expect((await update(replaceName(code))).errcode).toBe(0);
    });
  });

  describe('POST /__sim/click', () => {
    it('when a recipient clicks a button, then the callback gets a decryptable template_card_event with a fresh code that updates the card once', async () => {
      const sent = await send(cardMessage(buttonCard('alert-49-ack')));
      const { status, body: clicked } = await click({ user: 'lisi', key: 'silence1h' });
      expect(status).toBe(200);
      expect(clicked).toEqual({
        taskId: 'alert-49-ack',
        key: 'silence1h',
        user: 'lisi',
        responseCode: expect.any(String),
        callbackStatuses: [200],
      });
      expect(clicked.responseCode).not.toBe(sent.response_code);
      expect(receiver.pushes).toHaveLength(1);
      const event = parseCallbackXml(receiver.pushes[0]);
      expect(event).toEqual({
        ToUserName: APP_A.corpId,
        FromUserName: 'lisi',
        CreateTime: expect.stringMatching(/^\d{10}$/),
        MsgType: 'event',
        Event: 'template_card_event',
        EventKey: 'silence1h',
        TaskId: 'alert-49-ack',
        CardType: 'button_interaction',
        ResponseCode: clicked.responseCode,
        AgentID: String(APP_A.agentId),
      });
      expect(await update({ ...replaceName(clicked.responseCode, 'Silenced'), userids: ['lisi'] })).toEqual({ errcode: 0, errmsg: 'ok' });
      expect((await update(replaceName(clicked.responseCode))).errmsg).toContain('response_code used or expired');
      // The send's own code is still unused: the click's is a separate one.
      expect((await update(replaceName(sent.response_code, 'Done'))).errcode).toBe(0);
      expect(sim.cards[0].updates.map((u) => [u.kind, u.replace_name])).toEqual([
        ['click', 'Silenced'],
        ['send', 'Done'],
      ]);
    });

    it('when repeat is 2, then two identical pushes arrive, as WeCom retries them', async () => {
      await send(cardMessage(buttonCard('alert-50-ack')));
      const body = await sim.click({ user: 'zhangsan', key: 'ack', repeat: 2 });
      expect(body.callbackStatuses).toEqual([200, 200]);
      expect(receiver.pushes).toHaveLength(2);
      expect(receiver.pushes[1]).toBe(receiver.pushes[0]);
      expect(parseCallbackXml(receiver.pushes[0]).ResponseCode).toBe(body.responseCode);
    });

    it('when taskId is omitted, then the newest card the user received is clicked', async () => {
      await send(cardMessage(buttonCard('alert-51-ack')));
      await send(cardMessage(buttonCard('alert-52-ack'), { touser: 'lisi' }));
      expect((await click({ user: 'zhangsan', key: 'ack' })).body.taskId).toBe('alert-51-ack');
      expect((await click({ user: 'lisi', key: 'ack' })).body.taskId).toBe('alert-52-ack');
      expect((await click({ user: 'lisi', key: 'ack', taskId: 'alert-51-ack' })).body.taskId).toBe('alert-51-ack');
    });

    it('when a non-recipient clicks, then 403; an unknown key or a url button, 422; no such card, 404; and nothing is pushed', async () => {
      await send(cardMessage(buttonCard('alert-53-ack')));
      expect(await click({ user: 'wangwu', key: 'ack', taskId: 'alert-53-ack' })).toMatchObject({
        status: 403,
        body: { error: 'wangwu did not receive card alert-53-ack' },
      });
      expect((await click({ user: 'wangwu', key: 'ack' })).status).toBe(404);
      expect((await click({ user: 'zhangsan', key: 'nosuch' })).status).toBe(422);
      const url = await click({ user: 'zhangsan', key: 'Runbook' });
      expect(url.status).toBe(422);
      expect(url.body.error).toContain('callback keys: ack, silence1h');
      expect((await click({ user: 'zhangsan', key: 'ack', taskId: 'alert-00' })).status).toBe(404);
      expect((await click({ user: 'zhangsan', key: 'ack', repeat: 6 })).status).toBe(400);
      expect(receiver.pushes).toHaveLength(0);
    });

    it('when the card went to a party, then anyone may click it', async () => {
      await send(cardMessage(buttonCard('alert-54-ack'), { touser: '', toparty: '2' }));
      expect((await click({ user: 'wangwu', key: 'ack' })).status).toBe(200);
    });

    it('when the simulator knows no callback URL, then 409; when the gateway answers the push with HTTP 500, then 502', async () => {
      await send(cardMessage(buttonCard('alert-55-ack')));
      sim.deliverCallbacksTo(undefined);
      expect((await click({ user: 'zhangsan', key: 'ack' })).status).toBe(409);
      sim.deliverCallbacksTo({ url: receiver.url, token: TOKEN, aesKey: AES_KEY, corpId: APP_A.corpId });
      receiver.status = 500;
      const failed = await click({ user: 'zhangsan', key: 'ack', repeat: 3 });
      expect(failed.status).toBe(502);
      expect(failed.body.error).toContain('HTTP 500');
      expect(receiver.pushes).toHaveLength(1);
    });
  });

  describe('GET /__sim/cards', () => {
    it('when a card is updated, then GET /__sim/cards shows its recipients, current card, button text and the update', async () => {
      const sent = await send(cardMessage(buttonCard('alert-56-ack'), { touser: 'zhangsan|lisi', totag: '7' }));
      const { body: clicked } = await click({ user: 'zhangsan', key: 'ack' });
      await update({ ...replaceName(clicked.responseCode), tagids: [7], atall: 1 });
      const res = await fetch(`${sim.url}/__sim/cards`);
      expect(res.status).toBe(200);
      const { cards } = (await res.json()) as { cards: Record<string, unknown>[] };
      expect(cards).toEqual([
        {
          taskId: 'alert-56-ack',
          agentid: APP_A.agentId,
          msgid: sent.msgid,
          cardType: 'button_interaction',
          to: { users: ['zhangsan', 'lisi'], parties: [], tags: ['7'] },
          card: buttonCard('alert-56-ack'),
          buttonText: 'Acked',
          updates: [
            {
              responseCode: clicked.responseCode,
              kind: 'click',
              replace_name: 'Acked',
              userids: ['zhangsan'],
              partyids: [],
              tagids: [7],
              atall: true,
              at: expect.any(Number),
            },
          ],
        },
      ]);
      expect(cards).toEqual(JSON.parse(JSON.stringify(sim.cards)));
    });

    it('when the simulator is reset, then its cards and their codes are gone', async () => {
      const { response_code: code } = await send(cardMessage(buttonCard('alert-57-ack')));
      sim.reset();
      expect(sim.cards).toEqual([]);
      expect((await update(replaceName(code))).errmsg).toContain('response_code used or expired');
      expect((await send(cardMessage(buttonCard('alert-57-ack')))).errcode).toBe(0);
    });
  });
});

describe('the simulator: response codes expire', () => {
  let sim: WecomSimulator;

  beforeAll(async () => {
    sim = await WecomSimulator.start({ apps: [APP_A], memberLimits: [], responseCodeTtlMs: 300 });
  });
  afterAll(() => sim.stop());

  it('when a response_code is older than responseCodeTtlMs, then the update is refused with 40058 "used or expired"', async () => {
    const token = ((await (await fetch(`${sim.url}/cgi-bin/gettoken?corpid=${APP_A.corpId}&corpsecret=${APP_A.secret}`)).json()) as Answer)
      .access_token;
    const { response_code: code } = await post(
      `${sim.url}/cgi-bin/message/send?access_token=${token}`,
      cardMessage(buttonCard('alert-58-ack')),
    );
    const fresh = await post(`${sim.url}/cgi-bin/message/send?access_token=${token}`, cardMessage(buttonCard('alert-59-ack')));
    const change = (responseCode: unknown) => ({
      userids: ['zhangsan'],
      agentid: APP_A.agentId,
      response_code: responseCode,
      button: { replace_name: 'Acked' },
    });
    expect((await post(`${sim.url}/cgi-bin/message/update_template_card?access_token=${token}`, change(fresh.response_code))).errcode).toBe(
      0,
    );
    await sleep(400);
    const expired = await post(`${sim.url}/cgi-bin/message/update_template_card?access_token=${token}`, change(code));
    expect(expired).toMatchObject({ errcode: 40058, errmsg: expect.stringContaining('response_code used or expired') });
    expect(sim.cards[0].updates).toEqual([]);
  });
});
