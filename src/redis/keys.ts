/**
 * Every Redis key the gateway writes, in one place: what a key holds is read
 * here, not pieced together in the rooms that use it. Our keys start with
 * `<prefix>:`; `{…}` is a Cluster hash tag, so the keys one script or
 * transaction touches share a slot. BullMQ's keys start with `queuePrefix`.
 */
/** A coalescing pool's keys (messages/coalesce-pool.ts). */
export type CoalesceKey = 'order' | 'leases' | 'owners' | 'bodies' | 'done';

export function redisKeys(prefix: string) {
  const contacts = `${prefix}:{${prefix}:contacts}`;
  return {
    prefix,
    /** BullMQ's prefix: the hash tag keeps each queue's keys in one Cluster slot. */
    queuePrefix: `{${prefix}}`,

    /** The shared access_token of one app secret, and the lock of the one caller fetching it. */
    token: (corpId: string, secretId: string) => `${prefix}:token:${corpId}:${secretId}`,
    tokenLock: (corpId: string, secretId: string) => `${prefix}:token:${corpId}:${secretId}:lock`,
    /** A media_id uploaded for content with this hash (reused while WeCom keeps it). */
    media: (corpId: string, msgtype: string, hash: string) => `${prefix}:media:${corpId}:${msgtype}:${hash}`,
    /** A part's file as the media worker left it (media_id, or a robot image's base64+md5, or why it failed), for the part's send job. */
    mediaFile: (sendId: string, chunk: number) => `${prefix}:media-file:${sendId}:${chunk}`,
    /** One caller's file downloads under way (holder -> lease end, ms), over every instance. */
    mediaDownloads: (owner: string) => `${prefix}:media-downloads:${owner}`,

    /** What was asked, and one field per part (written by the worker): one slot per message. */
    message: (id: string) => `${prefix}:msg:{${id}}`,
    messageParts: (id: string) => `${prefix}:msg:{${id}}:parts`,
    /** Each attempt's outcome, oldest first: the console's timeline. */
    messageAttempts: (id: string) => `${prefix}:msg:{${id}}:attempts`,
    recentMessages: `${prefix}:msg:recent`,
    /**
     * GET /v1/messages: message ids by acceptance time (`<createdAt, 13 digits>:<id>`,
     * read in lex order), all of them and each creator's own; one slot, so one script
     * writes both. Trimmed to the retention and a cap on every write, expiring with the records.
     */
    messageIndex: `${prefix}:{${prefix}:msgindex}:all`,
    messageIndexBy: (createdBy: string) => `${prefix}:{${prefix}:msgindex}:by:${createdBy}`,
    /** The console's charts: one hash of counts per minute (epoch minutes), summed over instances. */
    consoleMinute: (minute: number) => `${prefix}:console:minute:${minute}`,
    /**
     * An idempotency key's claim, in its caller's namespace (the caller's id, never
     * its API key), by the hash of the idempotency key; the gateway's own (storm
     * digests, extensions) under a prefix of their own that no caller's id reaches.
     */
    idempotency: (callerId: string, keyHash: string) => `${prefix}:idem:${callerId}:${keyHash}`,
    internalIdempotency: (keyHash: string) => `${prefix}:idem-internal:${keyHash}`,

    /** A callback push seen (WeCom retries a push it got no answer to). */
    callbackSeen: (dedupeKey: string) => `${prefix}:callback:${dedupeKey}`,

    /** The local directory, its change feed and each sink's position: one slot, for WATCH/MULTI. */
    contacts: {
      feed: `${contacts}:feed`,
      user: (userId: string) => `${contacts}:user:${userId.toLowerCase()}`,
      users: `${contacts}:users`,
      department: (id: number) => `${contacts}:department:${id}`,
      departments: `${contacts}:departments`,
      tag: (id: number) => `${contacts}:tag:${id}`,
      applied: (dedupeKey: string) => `${contacts}:applied:${dedupeKey}`,
      sink: (sink: string, what: 'cursor' | 'lease' | 'dead' | 'redo') => `${contacts}:sync:${sink}:${what}`,
    },

    welcome: {
      outcomes: `${prefix}:welcome:outcomes`,
      done: (dedupeKey: string) => `${prefix}:welcome:done:${dedupeKey}`,
      contactWays: (activity: string) => `${prefix}:welcome:ways:${activity}`,
      /** An employee's adds of one day and customers in total: one slot per employee. */
      employee: (userId: string, what: string) => `${prefix}:welcome:{${userId.toLowerCase()}}:${what}`,
    },

    /** Quotas: a member's sends per app (one slot per app), alert storms per recipient set, API calls per key. */
    memberBudget: (corpId: string, agentId: number, user: string) => `${prefix}:budget:{${corpId}:${agentId}}:${user.toLowerCase()}`,
    /** Parts waiting for one budget that a carrier merges (messages/coalesce-pool.ts), in that budget's slot. */
    coalesce: (tag: string, pool: string, what: CoalesceKey) => `${prefix}:coalesce:{${tag}}:${pool}:${what}`,
    /** The distinct users one caller named in the last hour (userid -> when last named, ms): what bounds its budget keys. */
    recipientCap: (callerId: string) => `${prefix}:recipients:${callerId}`,
    /**
     * A group robot's line (its parts in the order they were accepted), the counter
     * that orders it, and per key (by the key's hash, never the key) the sends of the
     * last minute and a 45009 block: one slot per robot, for one atomic script.
     */
    robot: (robot: string, what: 'line' | 'seq' | `window:${string}` | `blocked:${string}`) => `${prefix}:robot:{${robot}}:${what}`,
    /**
     * App group chats registered through this gateway (created, or PUT),
     * per app, each with the key that owns it: only those can be sent to.
     */
    chats: (app: string) => `${prefix}:chats:${app}`,
    /**
     * Alert groups sent (interactive cards, escalation): a group's state and its cards
     * share a slot; `current` names the latest group of one Alertmanager group and
     * recipient set (resolved, it stays until the next firing opens a new one).
     */
    alerts: {
      group: (id: string) => `${prefix}:alert:{${id}}`,
      cards: (id: string) => `${prefix}:alert:{${id}}:cards`,
      /** Held while the group's cards are being updated (one update at a time). */
      cardLock: (id: string) => `${prefix}:alert:{${id}}:card-lock`,
      /** What happened to the group, oldest first (alert-groups.ts TimelineEntry). */
      timeline: (id: string) => `${prefix}:alert:{${id}}:timeline`,
      /** The group's phone calls by call id (alerts/phone/call-store.ts), and each call's result, set once. */
      calls: (id: string) => `${prefix}:alert:{${id}}:calls`,
      callResult: (id: string, callId: string) => `${prefix}:alert:{${id}}:call-result:${callId}`,
      current: (scope: string) => `${prefix}:alert-current:${scope}`,
      /** The groups whose cards a member (userid, case-insensitive) received, by when (received-cards.ts). */
      received: (userId: string) => `${prefix}:alert-received:${userId.toLowerCase()}`,
      recent: `${prefix}:alert:recent`,
    },
    /** A schedule's overrides (hash: id -> JSON), expiring after the last one ends. */
    oncallOverrides: (schedule: string) => `${prefix}:oncall:overrides:${schedule}`,
    storm: (recipientsKey: string, what: string) => `${prefix}:storm:{${recipientsKey}}:${what}`,
    /**
     * Alerts a route's quiet hours hold until `releaseMs`: `held` (recipient set␟owner␟fingerprint -> the alert)
     * and `to` (recipient set -> where its digest goes), one slot per route; `windows` lists every window holding some.
     */
    quiet: {
      held: (route: string, releaseMs: number) => `${prefix}:quiet:{${route}}:${releaseMs}:held`,
      to: (route: string, releaseMs: number) => `${prefix}:quiet:{${route}}:${releaseMs}:to`,
      windows: `${prefix}:quiet:windows`,
    },
    rateLimit: `${prefix}:ratelimit`,
    /** Parts each caller queued in the current send-share window (budgets/send-share.ts). */
    sendShare: `${prefix}:sendshare`,
    /** Failed authentications per source address. */
    authFailures: `${prefix}:authfail`,
    /** A WeCom-style send with enable_duplicate_check: its body's hash, per caller, holds the idempotency key of the first (compat/). */
    compatDuplicate: (callerId: string, bodyHash: string) => `${prefix}:compat-dup:${callerId}:${bodyHash}`,
  };
}

export type RedisKeys = ReturnType<typeof redisKeys>;
