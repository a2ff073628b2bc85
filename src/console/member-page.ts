import { join } from 'node:path';
import express, { Router, type Request, type Response } from 'express';
import type { AlertCard, AlertGroup } from '../alerts/alert-groups';
import { ApiError } from '../http/errors';
import { cookieOf, LOGIN_COOKIE, MemberSessions, SESSION_COOKIE } from '../http/member-session';
import { crossSiteRefusal } from '../http/same-origin';
import { escapeHtml } from '../ops/html';
import { projectRoot } from '../ops/paths';
import type { WecomApp } from '../wecom/app';
import { getUserInfo } from '../wecom/endpoints/auth';
import { authorizeUrl, WEB_LOGIN_STATE } from '../wecom/web-login';
import type { WecomApi } from '../wecom/wecom-api';
import { actionForms, alertFacts, ACTIONS, takeAction, timelineHtml, viewOf, type AlertActions, type AlertPageDeps } from './alert-page';
import { consoleLocale, LANG_COOKIE, requestedLang, type ConsoleLocale } from './locale';

export interface MemberPageDeps extends AlertPageDeps {
  commands: AlertActions;
  api: WecomApi;
  /** The app whose web login identifies members (the alert app): its corp, agent and, for the session key, its secret. */
  app: WecomApp;
  /** WECOM_OAUTH_BASE, and PUBLIC_URL (else the address the request came to) for the redirect back. */
  oauthBase: string;
  publicUrl?: string;
  /** ALERT_TIMEZONE, as on the cards. */
  timeZone: string;
  clock: () => number;
}

/** A session lasts an hour: long enough to handle an alert, short enough that a lost phone is not a standing ack button. */
const SESSION_MS = 3_600_000;
/** WeCom's code lives 5 minutes: so does the login's state. */
const LOGIN_MS = 5 * 60_000;
const GROUP_ID = /^[0-9a-f]{20}$/;

/**
 * Who may act from the page, as from a card: a member the group's cards went to (or its
 * assignee); anyone the login identifies as a member of the corp when a card went to a
 * party, tag, group robot or chat, whose members the gateway cannot list.
 */
export function mayActOnPage(group: AlertGroup, cards: AlertCard[], userid: string): boolean {
  const same = (u: string) => u === '@all' || u.toLowerCase() === userid.toLowerCase();
  if (same(group.assigned?.to ?? '')) return true;
  return cards.some(
    ({ to }) => Boolean(to.parties?.length || to.tags?.length || to.robots?.length || to.chats?.length) || (to.users ?? []).some(same),
  );
}

function shell(locale: ConsoleLocale, title: string, body: string, notice?: string): string {
  return `<!doctype html><html lang="${locale.lang === 'zh' ? 'zh-CN' : 'en'}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · wecom-gateway</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/alerts/assets/console.css"></head><body><main>
${notice ? `<p class="notice" role="status">${escapeHtml(notice)}</p>` : ''}<h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

/**
 * The alert's page for members (`/alerts/{id}`, the link robot and chat messages carry):
 * no key, WeCom's web login instead (reference §17). A browser without a session goes to
 * oauth2/authorize and comes back with a code, which auth/getuserinfo turns into a userid
 * kept in a signed, HttpOnly, SameSite=Lax cookie; the page then shows the group and
 * its ack, assign and silence buttons, posted to the same origin and acting as that member.
 */
export function memberPageRouter(deps: MemberPageDeps): Router {
  const router = Router();
  const sessions = new MemberSessions(deps.app.secret, { ttlMs: SESSION_MS, clock: deps.clock });
  const localeOf = (req: Request) =>
    consoleLocale(requestedLang(req.query.lang, req.get('cookie'), req.get('accept-language')), deps.timeZone);
  const secure = deps.publicUrl?.startsWith('https:') ?? false;
  const cookie = { httpOnly: true, sameSite: 'lax', secure, path: '/alerts' } as const;
  const refuse = (req: Request, res: Response, status: number, message: string) =>
    void res
      .status(status)
      .type('html')
      .send(shell(localeOf(req), localeOf(req).t('member.title'), `<p class="hint">${escapeHtml(message)}</p>`));

  router.use((req, res, next) => {
    // As the console: helmet's no-referrer would make Chromium post the forms with `Origin: null`.
    res.setHeader('Referrer-Policy', 'same-origin');
    if (req.query.lang) res.cookie(LANG_COOKIE, localeOf(req).lang, { ...cookie, maxAge: 365 * 24 * 3_600_000 });
    next();
  });
  router.get('/assets/console.css', (_req, res) => res.sendFile(join(projectRoot(), 'public', 'console', 'console.css')));
  router.post('/:id/:action', express.urlencoded({ extended: false, limit: '4kb' }));

  router.get('/:id', async (req, res) => {
    const id = String(req.params.id);
    const group = GROUP_ID.test(id) ? await deps.groups.get(id) : undefined;
    if (!group) throw new ApiError(404, 'not_found', `no alert group ${id} (unknown or older than the retention)`);
    const { t } = localeOf(req);
    if (typeof req.query.code === 'string') {
      // Back from WeCom: only the browser that started this login may finish it.
      const state = cookieOf(req.get('cookie'), LOGIN_COOKIE);
      res.clearCookie(LOGIN_COOKIE, cookie);
      if (!state || !WEB_LOGIN_STATE.test(state) || req.query.state !== state) return refuse(req, res, 403, t('member.badState'));
      const who = await deps.api.call(deps.app, getUserInfo(req.query.code));
      if (who.kind !== 'ok') return refuse(req, res, 403, t('member.loginFailed', { reason: `${who.error.errcode} ${who.error.errmsg}` }));
      if (who.value.kind !== 'member') return refuse(req, res, 403, t('member.outsider'));
      res.cookie(SESSION_COOKIE, sessions.issue(who.value.userid), { ...cookie, maxAge: SESSION_MS });
      return res.redirect(303, `/alerts/${id}`);
    }
    const userid = sessions.verify(cookieOf(req.get('cookie'), SESSION_COOKIE));
    if (!userid) {
      const state = MemberSessions.newState();
      res.cookie(LOGIN_COOKIE, state, { ...cookie, maxAge: LOGIN_MS });
      const origin = deps.publicUrl ?? `${req.protocol}://${req.get('host')}`;
      const { corpId, agentId } = deps.app;
      return res.redirect(302, authorizeUrl({ oauthBase: deps.oauthBase, corpId, agentId, redirectUri: `${origin}/alerts/${id}`, state }));
    }
    res
      .type('html')
      .send(await memberPage(group, userid, localeOf(req), typeof req.query.notice === 'string' ? req.query.notice : undefined));
  });

  router.post('/:id/:action', async (req, res) => {
    const id = String(req.params.id);
    const action = ACTIONS.find((a) => a === req.params.action);
    const refused = crossSiteRefusal(req, 'alert page actions are taken from the alert page itself');
    if (refused) throw refused;
    const group = action && GROUP_ID.test(id) ? await deps.groups.get(id) : undefined;
    if (!group) throw new ApiError(404, 'not_found', `no alert group ${id} or action ${String(req.params.action)}`);
    const by = sessions.verify(cookieOf(req.get('cookie'), SESSION_COOKIE));
    // No session (expired, forged): the page again, which logs in first.
    if (!by) return res.redirect(303, `/alerts/${id}`);
    const locale = localeOf(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    const to = typeof body.to === 'string' && body.to.trim() ? body.to.trim() : undefined;
    const duration = typeof body.duration === 'string' && body.duration ? body.duration : undefined;
    const notice = mayActOnPage(group, await deps.groups.cards(id), by)
      ? await takeAction(deps.commands, action!, id, { by, to, duration, via: 'page' }, locale)
      : locale.t('member.mayNot');
    res.redirect(303, `/alerts/${id}?notice=${encodeURIComponent(notice)}`);
  });

  async function memberPage(group: AlertGroup, userid: string, locale: ConsoleLocale, notice?: string): Promise<string> {
    const { t } = locale;
    const [cards, timeline] = await Promise.all([deps.groups.cards(group.id), deps.groups.timeline.of(group.id)]);
    const durations = deps.tracking.durationsOf(group.route).map((d) => d.text);
    const allowed = mayActOnPage(group, cards, userid);
    const forms = allowed
      ? actionForms(group, { actionUrl: (name) => `/alerts/${group.id}/${name}`, durations, byField: false }, locale)
      : `<p class="hint">${escapeHtml(t('member.mayNot'))}</p>`;
    const body =
      `<p class="meta you">${escapeHtml(t('member.you', { userid }))}</p><div class="alert-page" data-alert="${escapeHtml(group.id)}">` +
      `${await alertFacts(group, viewOf(group, cards, deps.tracking), deps, locale)}` +
      `<h2>${escapeHtml(t('alertPage.actions'))}</h2><div class="actions">${forms}</div>` +
      `<h2>${escapeHtml(t('alertPage.timeline'))}</h2><div class="timeline">${await timelineHtml(timeline, deps, locale)}</div></div>`;
    return shell(locale, `[${group.severity}] ${group.title}`, body, notice);
  }

  return router;
}
