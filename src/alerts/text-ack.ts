import { createHash } from 'node:crypto';
import type { EventAnswer, EventRule } from '../core';
import { memberMessage, type CallbackEvent } from '../wecom/callback/event';
import type { AlertCommands } from './alert-commands';
import type { AlertGroup, AlertGroups } from './alert-groups';

/** `ack` or `认领`, trimmed, any case, optionally followed by the start of a group's id (`ack 3f2a`) to choose an older one. */
const TEXT_ACK = /^\s*(?:ack|认领)(?:\s+([0-9a-f]{4,20}))?\s*$/i;

type Language = 'zh' | 'en';

/** The passive replies, in ALERT_LANGUAGE: which group was acked, or why none was. */
const REPLIES: Record<Language, Record<'acked' | 'already' | 'noCard' | 'noneOpen', (group?: AlertGroup) => string>> = {
  zh: {
    acked: (g) => `已认领: ${g!.title} (${g!.id})`,
    already: (g) => `已被 ${g!.acked?.name ?? g!.acked?.by ?? '他人'} 认领: ${g!.title} (${g!.id})`,
    noCard: () => '你最近没有收到告警卡片, 没有可认领的告警。',
    noneOpen: () => '你收到的告警都已认领、静默或恢复, 没有可认领的告警。',
  },
  en: {
    acked: (g) => `Acked: ${g!.title} (${g!.id})`,
    already: (g) => `Already acked by ${g!.acked?.name ?? g!.acked?.by ?? 'someone'}: ${g!.title} (${g!.id})`,
    noCard: () => 'You have received no alert card lately: nothing to ack.',
    noneOpen: () => 'Every alert you received is acked, silenced or resolved: nothing to ack.',
  },
};

export interface TextAckDeps {
  groups: AlertGroups;
  commands: AlertCommands;
  /** The app alert cards go through: only its members' messages ack. */
  appName: string;
  language: Language;
  clock: () => number;
}

/**
 * A member's text `ack` (or `认领`) to the alert app acks the newest firing group whose
 * card they received, and the passive reply says which (or why none). It runs inline,
 * inside the callback request, so the reply can name the group; it only touches Redis.
 * WeCom's repeat of the push is answered the same reply without acking twice (the
 * callback route keeps the reply with the push's dedupe key).
 */
export class TextAck {
  constructor(private readonly deps: TextAckDeps) {}

  /** Before forwarding and auto-replies: other text messages, and other apps' messages, go on to them. */
  rule(): EventRule {
    return {
      name: 'alert-text-ack',
      inline: true,
      match: { msgType: 'text' },
      when: (event) => event.app === this.deps.appName && TEXT_ACK.test(memberMessage(event).content ?? ''),
      handle: (event) => this.ack(event),
    };
  }

  private async ack(event: CallbackEvent): Promise<EventAnswer> {
    const replies = REPLIES[this.deps.language];
    const { fromUser, content } = memberMessage(event);
    const prefix = TEXT_ACK.exec(content ?? '')?.[1]?.toLowerCase();
    const ids = fromUser ? await this.deps.groups.received.of(fromUser) : [];
    if (ids.length === 0) return { reply: replies.noCard() };
    // One id per push: a retry after a failure finds its own ack.
    const clickId = createHash('sha256').update(event.dedupeKey).digest('hex').slice(0, 24);
    for (const id of ids.filter((i) => !prefix || i.startsWith(prefix))) {
      const group = await this.deps.groups.get(id);
      if (!group || (group.status !== 'firing' && group.acked?.clickId !== clickId)) continue;
      const action = { clickId, clickedAt: this.deps.clock() };
      const result = await this.deps.commands.ack(id, { by: fromUser!, via: 'text', action });
      const now = result.group ?? group;
      return { reply: result.outcome === 'acked' ? replies.acked(now) : replies.already(now) };
    }
    return { reply: replies.noneOpen() };
  }
}
