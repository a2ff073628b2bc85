import type { Core, Flow } from '../core';
import { findApp } from '../wecom/app';
import { customerRemoved } from '../wecom/callback/event';
import type { Activities } from './activities';
import { ContactWays } from './contact-ways';
import { EmployeePool } from './employee-pool';
import { defineWelcomeQueues, enqueueWelcome } from './welcome-queues';
import { welcomeRoutes } from './routes';
import type { WelcomeSettings } from './welcome-config';

/**
 * New customers: welcomed from a queue of their own (never behind a backlog of
 * alerts) inside WeCom's 20 s, counted per employee, tagged; employees at a limit
 * leave the 「联系我」 pool. Needs a customer-contact app (the default app, or its
 * WECOM_CUSTOMER_CONTACT_SECRET): without one, adds are still queued and counted.
 * `activities` are loaded (and reloaded on SIGHUP) by the gateway, with the event templates.
 */
export function wireWelcome(core: Core, config: WelcomeSettings, { activities }: { activities: Activities }) {
  const defaultApp = findApp(config);
  const app =
    defaultApp && config.welcome.customerContactSecret
      ? { ...defaultApp, name: 'customer-contact', secret: config.welcome.customerContactSecret }
      : defaultApp;
  const pool = new EmployeePool(core.redis, activities, { keys: core.keys.welcome, timeZone: config.welcome.timeZone, now: core.clock });
  const waysOptions = { keys: core.keys.welcome, logger: core.logger, clock: core.clock };
  const contactWays = app ? new ContactWays(core.redis, core.api, app, activities, pool, waysOptions) : undefined;
  const corpOf = (name: string) => findApp(config, name)?.corpId;
  const { api, redis, keys, metrics, logger, clock } = core;
  const deps = app && contactWays ? { app, corpOf, api, activities, pool, contactWays, redis, keys, metrics, logger, clock } : undefined;
  const { welcome, tags } = defineWelcomeQueues(core, config.workers, deps);
  return {
    rules: [
      {
        name: 'new-customer',
        inline: true,
        match: { msgType: 'event', event: 'change_external_contact', changeType: ['add_external_contact', 'add_half_external_contact'] },
        handle: (event) => enqueueWelcome(welcome, event),
      },
      {
        name: 'customer-removed',
        inline: true,
        match: { msgType: 'event', event: 'change_external_contact', changeType: ['del_external_contact', 'del_follow_user'] },
        handle: async (event) => {
          const { employee, customer } = customerRemoved(event);
          if (employee && customer) await pool.countRemoval(employee, customer);
        },
      },
    ],
    routes: contactWays ? welcomeRoutes(activities, pool, contactWays, core.redis, core.keys.welcome) : [],
    workers: [welcome.worker, tags.worker].filter((w) => w !== undefined),
    queues: [welcome.queue, tags.queue],
    close: async () => {
      await Promise.all([welcome.close(), tags.close()]);
    },
  } satisfies Flow;
}
