import type { Caller } from '../http/auth';
import type { MessagesSettings } from './messages-config';
import { hasMediaSource } from './media';
import { partPayloads, prepare, type PrepareDeps, type PreparedPart } from './prepare';
import { authorize, authorizeChats, type ChatAccess, type SendRequest } from './send-request';
import { MEDIA_MSGTYPES } from './templates';

/** What a preview reads: what preparing and the chats' owners read, and WeCom's duplicate-check window. */
export interface PreviewDeps extends PrepareDeps, ChatAccess {
  config: Pick<MessagesSettings, 'apps' | 'defaultApp' | 'send' | 'wechatReaders' | 'robots'>;
}

/** The exact message/send, webhook/send and appchat/send bodies that would be sent; nothing is queued. */
export async function preview(request: SendRequest, caller: Caller | undefined, deps: PreviewDeps) {
  authorize(request, caller, deps.config.defaultApp);
  const prepared = prepare(request, deps);
  await authorizeChats(request, caller, deps);
  const options = { agentId: prepared.app.agentId, duplicateCheckSeconds: deps.config.send.duplicateCheckSeconds };
  // A preview has no message id yet: the real interval differs per send (see duplicateCheckInterval).
  const payloadsOf = (p: PreparedPart, part: number) => partPayloads(p, { ...options, sendId: `preview_${part}` });
  const robots = prepared.parts.flatMap((p, part) =>
    'group' in p && 'robot' in p.group ? [{ robot: p.group.robot, payloads: payloadsOf(p, part) }] : [],
  );
  const chats = prepared.parts.flatMap((p, part) =>
    'group' in p && 'chat' in p.group ? [{ chatid: p.group.chat, payloads: payloadsOf(p, part) }] : [],
  );
  const media = MEDIA_MSGTYPES.has(prepared.msgtype) && hasMediaSource(prepared.body);
  return {
    event: prepared.template.event,
    msgtype: prepared.msgtype,
    app: prepared.app.name,
    payloads: prepared.parts.flatMap((p, part) => ('to' in p ? payloadsOf(p, part) : [])),
    ...(robots.length > 0 ? { robots } : {}),
    ...(chats.length > 0 ? { chats } : {}),
    ...(media ? { note: 'media is uploaded at send time; its media_id replaces "media"' } : {}),
  };
}
