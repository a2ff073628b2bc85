import type { ContactOf } from '../alerts/phone/dialers';
import type { Core, Flow } from '../core';
import type { ContactsSettings } from './contacts-config';
import { Directory } from './directory';
import { handleContactChange } from './handle-contact-change';
import { contactRoutes } from './routes';
import { SealedJson } from './sealed-json';
import { SyncDispatcher } from './sync-dispatcher';

/**
 * change_contact pushes update the local directory and its change feed inside the
 * callback request (durable before WeCom hears "received", in WeCom's order); each
 * sink then reads the feed in order from its own cursor.
 */
export async function wireContacts(core: Core, config: ContactsSettings) {
  // WATCH/MULTI needs a connection of its own.
  const sealed = new SealedJson(config.contacts.encryptionKey);
  const directory = new Directory(core.redis, await core.connect('wecom-gateway-contacts'), sealed, core.keys.contacts);
  const { metrics, logger } = core;
  const syncOptions = { keys: core.keys.contacts, retryBaseDelayMs: config.send.retryBaseDelayMs, timeoutMs: 10_000, idleMs: 100 };
  const sync =
    config.contacts.sinks.length > 0
      ? new SyncDispatcher(core.redis, directory, sealed, config.contacts.sinks, syncOptions, metrics, logger)
      : undefined;
  if (sync && config.workers.has('sync')) sync.start();
  return {
    rules: [
      {
        name: 'contact-change',
        inline: true,
        match: { msgType: 'event', event: 'change_contact' },
        handle: (event) => handleContactChange(event, { directory, metrics, logger }),
      },
    ],
    routes: contactRoutes(directory, sync, config.contacts.piiKeys),
    /** A member's name as the mirror knows it (alert cards name who acted). */
    nameOf: async (userId: string) => (await directory.user(userId))?.name,
    /** Who a phone adapter rings: the member's name and mobile, when the mirror holds them. */
    contactOf: async (userId: string) => {
      const user = await directory.user(userId);
      return user && { name: user.name, mobile: user.mobile };
    },
    /** Delivery to the sinks (none configured: undefined); the console's sync page reads it. */
    sync,
    close: async () => sync?.stop(),
  } satisfies Flow & { nameOf(userId: string): Promise<string | undefined>; contactOf: ContactOf; sync?: SyncDispatcher };
}
