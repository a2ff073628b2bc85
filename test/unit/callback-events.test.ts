import {
  addExternalContact,
  cardClick,
  customerRemoved,
  dedupeKeyFor,
  describe as describeEvent,
  eventHeader,
  memberMessage,
  type CallbackEvent,
} from '../../src/wecom/callback/event';
import { parseCallbackXml } from '../../src/wecom/callback/xml';

/** A decrypted push as the callback route records it. */
const pushed = (xml: string): CallbackEvent => ({
  app: 'default',
  receivedAt: 1_700_000_001_000,
  dedupeKey: 'k1',
  fields: parseCallbackXml(xml),
});

// The samples of reference §7, as WeCom sends them.
const TEXT = pushed(
  '<xml><ToUserName><![CDATA[ww1234567890]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>' +
    '<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>' +
    '<![CDATA[ack 42]]></Content><MsgId>7300000000000000001</MsgId><AgentID>1000002</AgentID></xml>',
);
const ADD = pushed(
  '<xml><ToUserName><![CDATA[ww1234567890]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>' +
    '<CreateTime>1700000000</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>' +
    '<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[sales01]]></UserID><ExternalUserID>' +
    '<![CDATA[wmAJ2GCAAAXtWyujaWJHDDGi0mACAAAA]]></ExternalUserID><State><![CDATA[expo2026]]></State><WelcomeCode>' +
    '<![CDATA[WELCOMECODE]]></WelcomeCode></xml>',
);
const CARD = pushed(
  '<xml><ToUserName><![CDATA[ww1234567890]]></ToUserName><FromUserName><![CDATA[lisi]]></FromUserName>' +
    '<CreateTime>1700000100</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[template_card_event]]></Event>' +
    '<EventKey><![CDATA[ack]]></EventKey><TaskId><![CDATA[alert-42-ack]]></TaskId><CardType>' +
    '<![CDATA[button_interaction]]></CardType><ResponseCode><![CDATA[rc1]]></ResponseCode><AgentID>1000002</AgentID></xml>',
);

describe('typed callback events', () => {
  it('when any push is read, then its header names the common elements, and a log line never carries the content', () => {
    expect(eventHeader(TEXT)).toEqual({
      msgType: 'text',
      event: undefined,
      changeType: undefined,
      eventKey: undefined,
      fromUser: 'zhangsan',
      corpId: 'ww1234567890',
      agentId: '1000002',
      msgId: '7300000000000000001',
      createTime: '1700000000',
    });
    expect(eventHeader(ADD)).toMatchObject({
      msgType: 'event',
      event: 'change_external_contact',
      changeType: 'add_external_contact',
      fromUser: 'sys',
    });
    expect(describeEvent(TEXT)).toEqual({ app: 'default', msgType: 'text', event: undefined, changeType: undefined, dedupeKey: 'k1' });
  });

  it('when a member writes to the app, then the message keeps its 64-bit MsgId as a string and its time as ISO', () => {
    expect(memberMessage(TEXT)).toEqual({
      fromUser: 'zhangsan',
      msgType: 'text',
      content: 'ack 42',
      msgId: '7300000000000000001',
      agentId: '1000002',
      corpId: 'ww1234567890',
      createdAt: '2023-11-14T22:13:20.000Z',
    });
  });

  it('when a customer adds an employee, then the add names both, the state and the welcome code; a half add says so', () => {
    expect(addExternalContact(ADD)).toEqual({
      changeType: 'add_external_contact',
      employee: 'sales01',
      customer: 'wmAJ2GCAAAXtWyujaWJHDDGi0mACAAAA',
      state: 'expo2026',
      welcomeCode: 'WELCOMECODE',
      half: false,
      at: '2023-11-14T22:13:20.000Z',
    });
    const half = { ...ADD, fields: { ...ADD.fields, ChangeType: 'add_half_external_contact' } };
    expect(addExternalContact(half)).toMatchObject({ changeType: 'add_half_external_contact', half: true });
  });

  it('when elements are missing or not text, then the readers leave them undefined', () => {
    const bare = pushed('<xml><MsgType>event</MsgType><Event>change_external_contact</Event><UserID><Nested>x</Nested></UserID></xml>');
    expect(addExternalContact(bare)).toEqual({
      changeType: undefined,
      employee: undefined,
      customer: undefined,
      state: undefined,
      welcomeCode: undefined,
      half: false,
      at: undefined,
    });
    expect(customerRemoved(bare)).toEqual({ changeType: undefined, employee: undefined, customer: undefined });
    expect(memberMessage(bare).createdAt).toBeUndefined();
  });

  it('when the relationship ends, then the removal names the employee and the customer', () => {
    const removed = { ...ADD, fields: { ...ADD.fields, ChangeType: 'del_follow_user' } };
    expect(customerRemoved(removed)).toEqual({
      changeType: 'del_follow_user',
      employee: 'sales01',
      customer: 'wmAJ2GCAAAXtWyujaWJHDDGi0mACAAAA',
    });
  });

  it('when a member clicks a card button, then the click names the member, the button, the card and its new response code', () => {
    expect(cardClick(CARD)).toEqual({
      user: 'lisi',
      eventKey: 'ack',
      taskId: 'alert-42-ack',
      cardType: 'button_interaction',
      responseCode: 'rc1',
      agentId: '1000002',
      at: '2023-11-14T22:15:00.000Z',
    });
  });
});

describe('the process-once key of a push', () => {
  it('when a push has a numeric MsgId, then it goes by it; a MsgId of other characters (a forged ":") goes by its hash, so it is a valid queue job id', () => {
    expect(dedupeKeyFor('default', { MsgId: '7300000000000000001' }, '<xml/>')).toBe('default_msg_7300000000000000001');
    const forged = dedupeKeyFor('default', { MsgId: 'a:b' }, '<xml/>');
    expect(forged).toMatch(/^default_msg_[0-9a-f]{32}$/);
    expect(dedupeKeyFor('default', { MsgId: 'a:b' }, '<xml>other</xml>')).toBe(forged);
    expect(dedupeKeyFor('default', {}, '<xml/>')).toMatch(/^default_evt_[0-9a-f]{32}$/);
  });
});
