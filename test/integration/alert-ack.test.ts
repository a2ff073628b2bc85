import { parseDuration } from '../../src/alerts/escalation-config';
import { deliverPush, readPassiveReply, type CallbackTarget } from '../../src/wecom/callback/push';
import { withAlertRoutes } from '../support/alert-routes';
import { startAlertmanager, startCardGateway, silences, type Alertmanager } from '../support/alertmanager';
import { amAlert, amPayload, CARD_AES_KEY, CARD_TOKEN } from '../support/alertmanager';
import { eventually, SIM_APP } from '../support/harness';
import { memberTextXml } from '../support/wecom-push';

const KEY_A = 'ack-owner-key-000000001';
const KEY_B = 'ack-other-key-000000002';

type Card = Awaited<ReturnType<typeof startCardGateway>>['h']['sim']['cards'][number];
type Body = { sub_title_text?: string; replace_text?: string; main_title: { title: string } };
const lastText = (card: Card | undefined) => {
  const body = (card?.updates.at(-1)?.template_card ?? card?.card) as Body | undefined;
  return `${body?.sub_title_text ?? ''} ${body?.replace_text ?? ''}`;
};

describe('ack from anywhere: the API, a text message, assign (a real Alertmanager)', () => {
  let am: Alertmanager;
  let gw: Awaited<ReturnType<typeof startCardGateway>>;
  const routes = withAlertRoutes({
    name: 'oncall',
    users: ['zhangsan'],
    silencers: ['zhangsan'],
    escalation: [{ after: parseDuration('1s')!, to: { users: ['wangwu'] } }],
  });
  const as = (key = KEY_A) => ({
    post: (path: string, body: object = {}) => gw.h.api.post(path).set('Authorization', `Bearer ${key}`).send(body),
    get: (path: string) => gw.h.api.get(path).set('Authorization', `Bearer ${key}`),
  });
  const fire = async (name: string, query: string) => {
    const labels = { alertname: name, severity: 'critical', instance: 'db1:9100' };
    const payload = amPayload({ groupKey: name, commonLabels: labels, alerts: [amAlert({ labels })] });
    const res = await as().post(`/v1/integrations/alertmanager?${query}`, payload);
    expect(res.status).toBe(202);
    await eventually(() => gw.h.sim.cards.find((c) => c.taskId?.startsWith(`alert_${res.body.alert}`)), 10_000);
    return res.body.alert as string;
  };
  const cardsOf = (id: string) => gw.h.sim.cards.filter((c) => c.taskId?.startsWith(`alert_${id}_`));
  const view = async (id: string) => (await as().get(`/v1/alerts/${id}`)).body;
  const target = (): CallbackTarget => ({
    url: `${gw.base}/wecom/callback`,
    token: CARD_TOKEN,
    aesKey: CARD_AES_KEY,
    corpId: SIM_APP.corpId,
    agentId: SIM_APP.agentId,
  });
  /** A member's text message to the app, signed and encrypted as WeCom pushes it; answers the passive reply's text. */
  const text = async (from: string, content: string, msgId: string) => {
    const xml = memberTextXml(content, msgId, undefined, from);
    const res = await deliverPush(target(), xml);
    expect(res.status).toBe(200);
    const reply = readPassiveReply(target(), res.body);
    return reply && 'content' in reply ? reply.content : undefined;
  };

  beforeAll(async () => {
    am = await startAlertmanager();
    gw = await startCardGateway(am.port, { GATEWAY_API_KEYS: `${KEY_A},${KEY_B}:send+read` }, { config: routes });
  }, 30_000);
  afterAll(async () => {
    await gw?.close();
    await am?.stop();
  });

  it('when a member acks by the API, then every card says so at the simulator, escalation stops, and a second ack is a repeat', async () => {
    const id = await fire('ApiAck', 'route=oncall');
    const started = Date.now();
    const res = await as().post(`/v1/alerts/${id}/ack`, { by: 'zhangsan' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'acked', alert: { id, status: 'acked', acked: { by: 'zhangsan', via: 'api' } } });
    await eventually(() => lastText(cardsOf(id)[0]).includes('已认领 · zhangsan') || undefined, 10_000);
    process.stdout.write(`api ack -> card updated at the simulator: ${Date.now() - started} ms\n`);
    // The level-1 job runs and finds the group acked: nobody is paged.
    const queue = gw.h.gateway.queues.get('alert-actions')!;
    await eventually(async () => (await (await queue.getJob(`escalate-${id}-1`))?.isCompleted()) || undefined, 10_000);
    expect(gw.h.sim.cards.filter((c) => c.to.users.includes('wangwu'))).toHaveLength(0);
    const again = await as().post(`/v1/alerts/${id}/ack`, { by: 'lisi' });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ outcome: 'repeat', alert: { status: 'acked', acked: { by: 'zhangsan' } } });
    const { timeline } = await view(id);
    expect(timeline.filter((e: { kind: string }) => e.kind === 'acked')).toEqual([
      expect.objectContaining({ kind: 'acked', by: 'zhangsan', detail: 'api' }),
    ]);
  }, 30_000);

  it('when a group is assigned, then every card says to whom and by whom, the assignee gets the card, and the status stays firing', async () => {
    const id = await fire('Assign', 'users=zhangsan,lisi');
    const res = await as().post(`/v1/alerts/${id}/assign`, { to: 'zhaoliu', by: 'zhangsan' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ outcome: 'assigned', alert: { status: 'firing', assigned: { to: 'zhaoliu', by: 'zhangsan' } } });
    const theirs = await eventually(() => cardsOf(id).find((c) => c.to.users.includes('zhaoliu')), 10_000);
    expect(lastText(theirs)).toContain('已指派给 zhaoliu · 指派人 zhangsan');
    await eventually(() => lastText(cardsOf(id)[0]).includes('已指派给 zhaoliu') || undefined, 10_000);
    const { timeline } = await view(id);
    expect(timeline).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'assigned', by: 'zhangsan', to: 'zhaoliu', detail: 'api' }),
        expect.objectContaining({ kind: 'notified', to: 'zhaoliu' }),
      ]),
    );
    // The same assignee again: nothing new is sent.
    const again = await as().post(`/v1/alerts/${id}/assign`, { to: 'ZhaoLiu' });
    expect(again.body.outcome).toBe('repeat');
    expect(cardsOf(id).filter((c) => c.to.users.includes('zhaoliu'))).toHaveLength(1);
    // The assignee acks it by text: it is the newest group whose card they got.
    expect(await text('zhaoliu', '认领', '7400000000000000001')).toBe(`已认领: Assign (${id})`);
    expect((await view(id)).acked).toMatchObject({ by: 'zhaoliu', via: 'text' });
  }, 30_000);

  it('when a member silences by the API, then the real Alertmanager has the silence and the group is silenced; a bad duration or userid is a 400 naming it', async () => {
    const id = await fire('ApiSilence', 'route=oncall');
    const bad = await as().post(`/v1/alerts/${id}/silence`, { by: 'zhangsan', duration: '7h' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.fields).toEqual([expect.objectContaining({ field: 'duration' })]);
    const badUser = await as().post(`/v1/alerts/${id}/silence`, { by: 'not a userid!', duration: '1h' });
    expect(badUser.status).toBe(400);
    expect(badUser.body.error.fields).toEqual([expect.objectContaining({ field: 'by' })]);
    // The route's silencers are zhangsan only.
    const notAllowed = await as().post(`/v1/alerts/${id}/silence`, { by: 'lisi', duration: '1h' });
    expect(notAllowed.status).toBe(403);
    const res = await as().post(`/v1/alerts/${id}/silence`, { by: 'zhangsan', duration: '1h' });
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe('silencing');
    const silence = await eventually(async () => (await silences(am.port)).find((s) => s.matchers.some((m) => m.value === 'ApiSilence')));
    expect(silence.createdBy).toBe('zhangsan');
    expect(silence.comment).toContain('Silenced from the API');
    const silenced = await eventually(async () => ((await view(id)).status === 'silenced' ? view(id) : undefined), 10_000);
    expect(silenced.timeline).toEqual(
      expect.arrayContaining([expect.objectContaining({ kind: 'silenced', by: 'zhangsan', detail: '1h · api' })]),
    );
    await eventually(() => lastText(cardsOf(id)[0]).includes('已静默 1h · zhangsan') || undefined, 10_000);
  }, 30_000);

  it('when a member texts ack, then the newest open group whose card they got is acked and the reply names it; a repeated push acks once', async () => {
    const older = await fire('TextOlder', 'users=sunqi');
    const newer = await fire('TextNewer', 'users=sunqi,zhangsan');
    const started = Date.now();
    const reply = await text('sunqi', '  ACK ', '7400000000000000010');
    expect(reply).toBe(`已认领: TextNewer (${newer})`);
    await eventually(() => lastText(cardsOf(newer)[0]).includes('已认领 · sunqi') || undefined, 10_000);
    process.stdout.write(`text ack push -> card updated at the simulator: ${Date.now() - started} ms\n`);
    // WeCom repeats the push: the same reply, one ack.
    expect(await text('sunqi', '  ACK ', '7400000000000000010')).toBe(reply);
    expect((await view(newer)).timeline.filter((e: { kind: string }) => e.kind === 'acked')).toHaveLength(1);
    expect((await view(older)).status).toBe('firing');
    // The next one acks the older group; then nothing is left.
    expect(await text('sunqi', '认领', '7400000000000000011')).toBe(`已认领: TextOlder (${older})`);
    expect(await text('sunqi', 'ack', '7400000000000000012')).toBe('你收到的告警都已认领、静默或恢复, 没有可认领的告警。');
    expect((await view(older)).acked).toMatchObject({ by: 'sunqi', via: 'text' });
  }, 30_000);

  it('when someone who got no card texts ack, then the reply explains and nothing changes; other text goes on', async () => {
    const id = await fire('NoCard', 'users=zhangsan');
    expect(await text('nobody01', 'ack', '7400000000000000020')).toBe('你最近没有收到告警卡片, 没有可认领的告警。');
    expect((await view(id)).status).toBe('firing');
    // Not an ack: no reply of the alerts (no auto-reply is configured).
    expect(await text('zhangsan', 'ack please', '7400000000000000021')).toBeUndefined();
    expect((await view(id)).status).toBe('firing');
  }, 30_000);

  it('when another key acts on a group, then 404 as if it did not exist; an unknown id is 404 too', async () => {
    const id = await fire('OtherKey', 'users=zhangsan');
    for (const action of ['ack', 'assign', 'silence']) {
      const res = await as(KEY_B).post(`/v1/alerts/${id}/${action}`, { by: 'lisi', to: 'lisi', duration: '1h' });
      expect(res.status).toBe(404);
    }
    expect((await as().post(`/v1/alerts/${'0'.repeat(20)}/ack`, { by: 'lisi' })).status).toBe(404);
    expect((await view(id)).status).toBe('firing');
  }, 30_000);
});
