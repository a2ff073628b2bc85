import { eventXml } from '../../src/wecom/callback/push';
import { SIM_APP } from './harness';

/** The push builder lives with the rest of WeCom's protocol; tests keep importing it from here. */
export { encryptedPush, eventFields, eventXml } from '../../src/wecom/callback/push';

/** A member's (zhangsan unless given) text message to the simulator's app, as WeCom pushes it (CreateTime fixed unless given). */
export function memberTextXml(content: string, msgId: string, createTime = '1700000000', from = 'zhangsan'): string {
  return eventXml({
    ToUserName: SIM_APP.corpId,
    FromUserName: from,
    CreateTime: createTime,
    MsgType: 'text',
    Content: content,
    MsgId: msgId,
    AgentID: String(SIM_APP.agentId),
  });
}
