import { dirname, join } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { Router, type Request, type RequestHandler, type Response } from 'express';
import { callerOf, type Caller, type Permission } from '../http/auth';
import { ApiError } from '../http/errors';
import { sameOriginOnly } from '../http/same-origin';
import type { MessageService } from '../messages/message-service';
import { recallMessage, type RecallDeps } from '../messages/recall';
import type { EventTemplate } from '../messages/templates';
import { escapeHtml } from '../ops/html';
import { projectRoot } from '../ops/paths';
import { consoleLocale, LANG_COOKIE, LANGS, requestedLang, type ConsoleLocale, type Lang } from './locale';
import { messagePage, messagesPage, messagesTable, type MessageFilter, type MessagePagesDeps } from './message-pages';
import type { MinuteSeries } from './minute-series';
import type { DashboardPanel } from './panel';
import { CHARTS, chartData, hourTotals } from './overview';
import { consolePage, type NavItem } from './page';
import { playgroundBody, renderTryout, sendTryout } from './playground';

export interface ConsoleDeps {
  queues: Queue[];
  messages: MessagePagesDeps;
  service: MessageService;
  recall: RecallDeps;
  /** The event templates, as the last load left them. */
  templates: ReadonlyMap<string, EventTemplate>;
  apps: string[];
  robots: string[];
  series: MinuteSeries;
  panels: DashboardPanel[];
  /** ALERT_TIMEZONE: every time the console shows is in it, as on the alert cards. */
  timeZone: string;
}

const ASSETS = join(projectRoot(), 'public', 'console');
const UPLOT = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
const MESSAGE_ID = /^[0-9a-f-]{36}$/;
/** bull-board's names for the console's languages (its locales: node_modules/@bull-board/ui/dist/static/locales). */
const BULL_BOARD_LANG: Record<Lang, string> = { en: 'en-US', zh: 'zh-CN' };

/**
 * A page under Basic auth can be posted to by any site the admin visits (the browser
 * adds the credentials): every unsafe request under the console, bull-board's
 * included, is taken only from the console's own pages (http/same-origin.ts).
 */
const consoleSiteOnly = sameOriginOnly('console actions are taken from the console itself');

/**
 * A console action does what an API route does, so it needs that route's permission
 * (the console itself needs only admin): 403 naming the one missing.
 */
function mayAct(caller: Caller, permission: Permission, { t }: ConsoleLocale): ApiError | undefined {
  return caller.permissions.has(permission) ? undefined : new ApiError(403, 'forbidden', t('console.mayNot', { permission }));
}

const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
/** A page's query parameters given once and not empty (a filter given twice is no filter). */
const onceEach = (query: Request['query']) =>
  Object.fromEntries(Object.entries(query).filter((e): e is [string, string] => text(e[1]) !== undefined));

/**
 * The operators' console, behind the admin permission: an overview with the last
 * hour's charts, messages (filters, one page per message with its preview, payloads,
 * attempts and recall), the flows' pages (alert groups, contact sync), the template
 * playground and the queues (bull-board).
 */
export function consoleRouter(deps: ConsoleDeps, basePath = '/dashboard'): Router {
  const router = Router();
  const locales = Object.fromEntries(LANGS.map((lang) => [lang, consoleLocale(lang, deps.timeZone)])) as Record<Lang, ConsoleLocale>;
  const localeOf = (res: Response) => res.locals.locale as ConsoleLocale;
  const nav = ({ t }: ConsoleLocale): NavItem[] => [
    { path: '/', title: t('nav.overview') },
    { path: '/messages', title: t('nav.messages') },
    ...deps.panels.map((p) => ({ path: `/${p.id}`, title: t(p.title) })),
    { path: '/playground', title: t('nav.playground') },
    { path: '/queues', title: t('nav.queues') },
  ];
  const page = (
    req: Request,
    res: Response,
    active: string,
    title: string,
    body: string,
    extra: { scripts?: string[]; stylesheets?: string[]; refreshSeconds?: number } = {},
  ) => {
    const locale = localeOf(res);
    // The language switch keeps the page's query (a filter), not a notice already read.
    const here = new URLSearchParams(
      Object.entries(req.query).filter(([k, v]) => typeof v === 'string' && k !== 'lang' && k !== 'notice') as [string, string][],
    );
    void res
      .type('html')
      .send(consolePage({ basePath, nav: nav(locale), active, title, body, locale, here, notice: text(req.query.notice), ...extra }));
  };
  const back = (res: Response, path: string, message: string) =>
    res.redirect(303, `${basePath}${path}?notice=${encodeURIComponent(message)}`);
  /** JSON endpoints: a caller without the permission gets the API's 403. */
  const needs =
    (permission: Permission): RequestHandler =>
    (_req, res, next) =>
      next(mayAct(callerOf(res), permission, localeOf(res)));

  // helmet's no-referrer makes Chromium post forms with `Origin: null`; same-origin
  // keeps the origin for our own actions and still tells other sites nothing.
  router.use((req, res, next) => {
    res.setHeader('Referrer-Policy', 'same-origin');
    // The browser's language, or the one picked with ?lang=, kept in a cookie for the console's other pages.
    const lang = requestedLang(req.query.lang, req.get('cookie'), req.get('accept-language'));
    if (req.query.lang === lang)
      res.cookie(LANG_COOKIE, lang, { path: basePath, sameSite: 'lax', httpOnly: true, maxAge: 365 * 24 * 3_600_000 });
    res.locals.locale = locales[lang];
    next();
  });
  router.use(consoleSiteOnly);
  // bull-board draws its page in the language it is configured with: one board per console language, the same queues and API.
  const clock = { timeZone: deps.timeZone, hourCycle: 'h23' } as const;
  const boards = Object.fromEntries(
    LANGS.map((lang) => {
      const board = new ExpressAdapter();
      board.setBasePath(`${basePath}/queues`);
      const uiConfig = {
        boardTitle: 'wecom-gateway',
        locale: { lng: BULL_BOARD_LANG[lang] },
        dateFormats: {
          short: { hour: '2-digit', minute: '2-digit', second: '2-digit', ...clock },
          common: { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', ...clock },
          full: { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', ...clock },
        },
      } as const;
      createBullBoard({ queues: deps.queues.map((q) => new BullMQAdapter(q)), serverAdapter: board, options: { uiConfig } });
      return [lang, board.getRouter() as express.Router];
    }),
  ) as Record<Lang, express.Router>;
  router.use('/queues', (req, res, next) => boards[localeOf(res).lang](req, res, next));
  router.use('/assets/uplot', express.static(UPLOT, { index: false }));
  router.use('/assets', express.static(ASSETS, { index: false }));
  router.post('/{*action}', express.json({ limit: '256kb' }), express.urlencoded({ extended: false, limit: '16kb' }));

  router.get('/', async (req, res) => {
    const { t } = localeOf(res);
    const [data, recent] = await Promise.all([chartData(deps.series), deps.messages.store.recent(20)]);
    const charts = CHARTS.map(
      (c) =>
        `<figure class="chart" id="chart-${c.id}" data-chart="${c.id}"><figcaption>${escapeHtml(t(c.title, c.vars))}</figcaption></figure>`,
    ).join('');
    const more =
      `<p class="meta"><a href="${basePath}/messages">${escapeHtml(t('overview.allMessages'))}</a> · ` +
      `<a href="${basePath}/queues">${escapeHtml(t('nav.queues'))}</a></p>`;
    page(
      req,
      res,
      '/',
      t('overview.title'),
      `<p class="meta">${escapeHtml(t('overview.intro'))} · <a href="${basePath}/series.json">${escapeHtml(t('overview.data'))}</a></p>
<div class="charts" data-series="${basePath}/series.json">${charts}</div>
<h2>${escapeHtml(t('overview.hour'))}</h2>${hourTotals(data, t)}
<h2>${escapeHtml(t('overview.recent'))}</h2>${more}${messagesTable(basePath, recent, localeOf(res))}`,
      { scripts: ['uplot/uPlot.iife.min.js', 'overview.js'], stylesheets: ['uplot/uPlot.min.css'] },
    );
  });
  router.get('/series.json', async (_req, res) => void res.json(await chartData(deps.series)));

  router.get('/messages', async (req, res) => {
    const filter: MessageFilter = {
      status: text(req.query.status),
      event: text(req.query.event),
      app: text(req.query.app),
      recipient: text(req.query.recipient),
    };
    const events = [...deps.templates.values()].map((t) => t.event);
    const body = await messagesPage(deps.messages, basePath, filter, { events, apps: deps.apps }, localeOf(res));
    page(req, res, '/messages', localeOf(res).t('messages.title'), body, { refreshSeconds: 10 });
  });
  router.get('/messages/:id', async (req, res) => {
    const id = String(req.params.id);
    const view = MESSAGE_ID.test(id) ? await deps.messages.store.get(id) : undefined;
    if (!view) throw new ApiError(404, 'not_found', `no message ${id} (unknown or older than the retention)`);
    page(req, res, '/messages', `${view.event} · ${view.msgtype}`, await messagePage(deps.messages, basePath, view, localeOf(res)));
  });
  router.post('/messages/:id/recall', async (req, res) => {
    const id = String(req.params.id);
    const locale = localeOf(res);
    const { t } = locale;
    // As DELETE /v1/messages/{id}: send.
    const refused = mayAct(callerOf(res), 'send', locale);
    const recalled = refused ? Promise.reject(refused) : recallMessage(id, deps.recall, callerOf(res));
    const message = await recalled.then(
      // Part by part: a message only to a robot stays "sent", and the notice says why.
      (view) =>
        [
          t('message.recalled', { status: t(`status.${view.status}`) }),
          ...view.recall.map((p) => t('message.recallPart', { part: String(p.part + 1), to: p.to, outcome: t(`recall.${p.outcome}`) })),
        ].join(' · '),
      (err: unknown) => (err instanceof ApiError ? t('message.notRecalled', { reason: err.message }) : Promise.reject(err)),
    );
    back(res, `/messages/${id}`, message);
  });

  router.get('/playground', (req, res) => {
    const body = playgroundBody(basePath, [...deps.templates.values()], deps.robots, localeOf(res).t);
    page(req, res, '/playground', localeOf(res).t('playground.title'), body, { scripts: ['forms.js', 'playground.js'] });
  });
  // As POST /v1/messages/preview and POST /v1/messages: send, and the caller's scope (the service checks it).
  router.post(
    '/playground/render',
    needs('send'),
    async (req, res) => void res.json(await renderTryout(deps.service, req.body, callerOf(res))),
  );
  router.post(
    '/playground/send',
    needs('send'),
    async (req, res) => void res.status(202).json(await sendTryout(deps.service, req.body, callerOf(res), String(req.id), localeOf(res).t)),
  );

  for (const panel of deps.panels) {
    router.get(`/${panel.id}`, async (req, res) =>
      page(
        req,
        res,
        `/${panel.id}`,
        localeOf(res).t(panel.title),
        await panel.html(`${basePath}/${panel.id}`, localeOf(res), onceEach(req.query)),
        panel.scripts ? { scripts: panel.scripts } : {},
      ),
    );
    if (panel.item)
      router.get(`/${panel.id}/:item`, async (req, res) => {
        const item = await panel.item!(String(req.params.item), `${basePath}/${panel.id}`, localeOf(res));
        if (!item) throw new ApiError(404, 'not_found', `no ${panel.id} item ${String(req.params.item)}`);
        page(req, res, `/${panel.id}`, item.title, item.body, panel.scripts ? { scripts: panel.scripts } : {});
      });
    for (const [name, action] of Object.entries(panel.actions ?? {})) {
      router.post(`/${panel.id}/${name}`, async (req, res) => {
        const fields = Object.fromEntries(Object.entries(req.body ?? {}).map(([k, v]) => [k, String(v)]));
        // A button the key may not use is answered on the page, as its outcome would be.
        const refused = mayAct(callerOf(res), action.permission, localeOf(res));
        const done = refused ? refused.message : await action.act(fields, callerOf(res), localeOf(res));
        if (typeof done === 'string') back(res, `/${panel.id}`, done);
        else back(res, `/${panel.id}/${done.back}`, done.notice);
      });
    }
    // Behind the same origin check and JSON parsing as every console post; an ApiError answers its status and fields.
    for (const [name, endpoint] of Object.entries(panel.json ?? {})) {
      if (panel.actions?.[name]) throw new Error(`dashboard panel ${panel.id}: ${name} is both an action and a JSON endpoint`);
      router.post(
        `/${panel.id}/${name}`,
        needs(endpoint.permission),
        async (req, res) => void res.json(await endpoint.answer(req.body, callerOf(res), localeOf(res))),
      );
    }
  }
  return router;
}
