import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { Router } from 'express';
import type { DashboardPanel } from '../core';
import type { MessageStore, MessageView } from '../messages/message-store';
import { escapeHtml } from './html';


/** Where the message went: members, and each robot and chat with its own status. */
function destinations(m: MessageView): string {
  if (!m.deliveries) return 'members';
  return [...new Set(m.deliveries.map((d) => `${d.to}${d.to === 'members' ? '' : ` (${d.status})`}`))].join(', ');
}

function row(m: MessageView): string {
  const error = m.error ? `${m.error.errcode} ${m.error.hint ?? m.error.errmsg}` : '';
  return `<tr class="${escapeHtml(m.status)}"><td><code>${escapeHtml(m.id)}</code></td><td>${escapeHtml(m.event)}</td><td>${escapeHtml(m.msgtype)}</td><td>${escapeHtml(destinations(m))}</td><td class="status">${escapeHtml(m.status)}</td><td>${m.attempts}</td><td>${m.parts}</td><td>${escapeHtml(m.createdAt)}</td><td>${escapeHtml(error)}</td></tr>`;
}

/**
 * Operators' pages, behind the admin permission: the flows' panels (alert groups),
 * the queues (bull-board: waiting, active, delayed, failed jobs, retry) and the
 * latest messages with their status.
 */
export function dashboard(queues: Queue[], store: MessageStore, panels: DashboardPanel[] = [], basePath = '/dashboard'): Router {
  const router = Router();
  const board = new ExpressAdapter();
  board.setBasePath(`${basePath}/queues`);
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q)), serverAdapter: board, options: { uiConfig: { boardTitle: 'wecom-gateway' } } });
  router.use('/queues', board.getRouter());
  router.get('/', async (_req, res) => {
    const [messages, sections] = await Promise.all([store.recent(100), Promise.all(panels.map(async (p) => `<section id="${escapeHtml(p.id)}"><h2>${escapeHtml(p.title)}</h2>${await p.html()}</section>`))]);
    res.type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5"><title>wecom-gateway: recent messages</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left}
.sent .status{color:#0a7d32}.failed .status{color:#b00020}.sending .status,.queued .status{color:#8a6d00}</style></head>
<body>${sections.join('\n')}<h1>Recent messages</h1><p><a href="${basePath}/queues">Queues</a> · refreshes every 5 s · newest first</p>
<table><thead><tr><th>id</th><th>event</th><th>type</th><th>to</th><th>status</th><th>attempts</th><th>parts</th><th>accepted</th><th>last error</th></tr></thead>
<tbody>${messages.map(row).join('\n') || '<tr><td colspan="9">No messages yet.</td></tr>'}</tbody></table></body></html>`);
  });
  return router;
}
