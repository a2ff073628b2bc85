import { dirname, join } from 'node:path';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import type { DashboardPanel } from '../core';
import { callerOf } from '../http/auth';
import { ApiError } from '../http/errors';
import type { MessageService } from '../messages/message-service';
import { recallMessage, type RecallDeps } from '../messages/recall';
import type { EventTemplate } from '../messages/templates';
import { projectRoot } from '../ops/paths';
import { messagePage, messagesPage, messagesTable, type MessageFilter, type MessagePagesDeps } from './message-pages';
import type { MinuteSeries } from './minute-series';
import { CHARTS, chartData, hourTotals } from './overview';
import { consolePage, type NavItem } from './page';
import { playgroundBody, renderTryout, sendTryout } from './playground';

export interface ConsoleDeps {
  queues: Queue[];
  messages: MessagePagesDeps;
  service: MessageService;
  recall: RecallDeps;
  templates: EventTemplate[];
  apps: string[];
  robots: string[];
  series: MinuteSeries;
  panels: DashboardPanel[];
}

const ASSETS = join(projectRoot(), 'public', 'console');
const UPLOT = dirname(require.resolve('uplot/dist/uPlot.iife.min.js'));
const MESSAGE_ID = /^[0-9a-f-]{36}$/;

/**
 * A page under Basic auth can be posted to by any site the admin visits: actions
 * (recall, replay, send) take only requests a browser marks as same-origin. Clients
 * that are not browsers send neither header and are not open to that.
 */
function sameOriginOnly(req: Request, _res: Response, next: NextFunction): void {
  const origin = req.get('origin');
  const site = req.get('sec-fetch-site');
  if (origin !== undefined ? origin === `${req.protocol}://${req.get('host')}` : site === undefined || site === 'same-origin' || site === 'none') return next();
  next(new ApiError(403, 'cross_site', 'console actions are taken from the console itself'));
}

const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

/**
 * The operators' console, behind the admin permission: an overview with the last
 * hour's charts, messages (filters, one page per message with its preview, payloads,
 * attempts and recall), the flows' pages (alert groups, contact sync), the template
 * playground and the queues (bull-board).
 */
export function consoleRouter(deps: ConsoleDeps, basePath = '/dashboard'): Router {
  const router = Router();
  const nav: NavItem[] = [
    { path: '/', title: 'Overview' },
    { path: '/messages', title: 'Messages' },
    ...deps.panels.map((p) => ({ path: `/${p.id}`, title: p.title })),
    { path: '/playground', title: 'Playground' },
    { path: '/queues', title: 'Queues' },
  ];
  const page = (res: Response, active: string, title: string, body: string, extra: { scripts?: string[]; stylesheets?: string[]; notice?: string; refreshSeconds?: number } = {}) =>
    void res.type('html').send(consolePage({ basePath, nav, active, title, body, ...extra }));
  const notice = (req: Request) => text(req.query.notice);
  const back = (res: Response, path: string, message: string) => res.redirect(303, `${basePath}${path}?notice=${encodeURIComponent(message)}`);

  // helmet's no-referrer makes Chromium post forms with `Origin: null`; same-origin keeps the origin for our own actions and still tells other sites nothing.
  router.use((_req, res, next) => {
    res.setHeader('Referrer-Policy', 'same-origin');
    next();
  });
  const board = new ExpressAdapter();
  board.setBasePath(`${basePath}/queues`);
  createBullBoard({ queues: deps.queues.map((q) => new BullMQAdapter(q)), serverAdapter: board, options: { uiConfig: { boardTitle: 'wecom-gateway' } } });
  router.use('/queues', board.getRouter());
  router.use('/assets/uplot', express.static(UPLOT, { index: false }));
  router.use('/assets', express.static(ASSETS, { index: false }));
  router.post('/{*action}', sameOriginOnly, express.json({ limit: '256kb' }), express.urlencoded({ extended: false, limit: '16kb' }));

  router.get('/', async (req, res) => {
    const [data, recent] = await Promise.all([chartData(deps.series), deps.messages.store.recent(20)]);
    const charts = CHARTS.map((c) => `<figure class="chart" id="chart-${c.id}" data-chart="${c.id}"><figcaption>${c.title}</figcaption></figure>`).join('');
    page(res, '/', 'Overview', `<p class="meta">The last hour, per minute, summed over every instance · <a href="${basePath}/series.json">data</a></p>
<div class="charts" data-series="${basePath}/series.json">${charts}</div>
<h2>Callbacks and contact sync, last hour</h2>${hourTotals(data)}
<h2>Recent messages</h2><p class="meta"><a href="${basePath}/messages">All messages, with filters</a> · <a href="${basePath}/queues">Queues</a></p>${messagesTable(basePath, recent)}`, { scripts: ['uplot/uPlot.iife.min.js', 'overview.js'], stylesheets: ['uplot/uPlot.min.css'], notice: notice(req) });
  });
  router.get('/series.json', async (_req, res) => void res.json(await chartData(deps.series)));

  router.get('/messages', async (req, res) => {
    const filter: MessageFilter = { status: text(req.query.status), event: text(req.query.event), app: text(req.query.app), recipient: text(req.query.recipient) };
    const body = await messagesPage(deps.messages, basePath, filter, { events: deps.templates.map((t) => t.event), apps: deps.apps });
    page(res, '/messages', 'Messages', body, { refreshSeconds: 10, notice: notice(req) });
  });
  router.get('/messages/:id', async (req, res) => {
    const id = String(req.params.id);
    const view = MESSAGE_ID.test(id) ? await deps.messages.store.get(id) : undefined;
    if (!view) throw new ApiError(404, 'not_found', `no message ${id} (unknown or older than the retention)`);
    page(res, '/messages', `${view.event} · ${view.msgtype}`, await messagePage(deps.messages, basePath, view), { notice: notice(req) });
  });
  router.post('/messages/:id/recall', async (req, res) => {
    const id = String(req.params.id);
    const message = await recallMessage(id, deps.recall, callerOf(res)).then(
      (view) => `recalled: ${view.status}`,
      (err: unknown) => (err instanceof ApiError ? `not recalled: ${err.message}` : Promise.reject(err)),
    );
    back(res, `/messages/${id}`, message);
  });

  router.get('/playground', (_req, res) => page(res, '/playground', 'Template playground', playgroundBody(basePath, deps.templates, deps.robots), { scripts: ['forms.js', 'playground.js'] }));
  router.post('/playground/render', async (req, res) => void res.json(await renderTryout(deps.service, req.body, callerOf(res))));
  router.post('/playground/send', async (req, res) => void res.status(202).json(await sendTryout(deps.service, req.body, callerOf(res), String(req.id))));

  for (const panel of deps.panels) {
    router.get(`/${panel.id}`, async (req, res) => page(res, `/${panel.id}`, panel.title, await panel.html(`${basePath}/${panel.id}`), { notice: notice(req), ...(panel.scripts ? { scripts: panel.scripts } : {}) }));
    for (const [name, action] of Object.entries(panel.actions ?? {})) {
      router.post(`/${panel.id}/${name}`, async (req, res) => back(res, `/${panel.id}`, await action(Object.fromEntries(Object.entries(req.body ?? {}).map(([k, v]) => [k, String(v)])))));
    }
    // Behind the same origin check and JSON parsing as every console post; an ApiError answers its status and fields.
    for (const [name, endpoint] of Object.entries(panel.json ?? {})) {
      if (panel.actions?.[name]) throw new Error(`dashboard panel ${panel.id}: ${name} is both an action and a JSON endpoint`);
      router.post(`/${panel.id}/${name}`, async (req, res) => void res.json(await endpoint(req.body, callerOf(res))));
    }
  }
  return router;
}
