import { join } from 'node:path';
import express, { type Router } from 'express';
import { escapeHtml } from '../html';
import { projectRoot } from '../paths';

/** The console's sections, in the order of its navigation bar. */
export const CONSOLE_SECTIONS = [
  { id: 'overview', title: 'Overview', path: '/' },
  { id: 'messages', title: 'Messages', path: '/messages' },
  { id: 'callbacks', title: 'Callbacks & sync', path: '/callbacks' },
  { id: 'alerts', title: 'Alerts', path: '/alerts' },
  { id: 'playground', title: 'Playground', path: '/playground' },
  { id: 'queues', title: 'Queues', path: '/queues' },
] as const;

export type ConsoleSection = (typeof CONSOLE_SECTIONS)[number]['id'];

export interface ConsolePage {
  title: string;
  section: ConsoleSection;
  /** The page's HTML inside <main>; every value in it escaped by the caller (escapeHtml). */
  body: string;
  /** Script and style files under /dashboard/assets/ (the pages' CSP allows 'self' only: no inline scripts). */
  scripts?: string[];
  styles?: string[];
}

/** Where the console's static files are: public/console/, beside package.json (copied into the image). */
export const CONSOLE_ASSETS = join(projectRoot(), 'public', 'console');

/** One console page: navigation, the shared stylesheet, the page's own files. */
export function consolePage(page: ConsolePage, basePath = '/dashboard'): string {
  const nav = CONSOLE_SECTIONS.map(
    (s) => `<a href="${basePath}${s.path === '/' ? '/' : s.path}"${s.id === page.section ? ' aria-current="page"' : ''}>${escapeHtml(s.title)}</a>`,
  ).join('');
  const styles = ['console.css', ...(page.styles ?? [])].map((f) => `<link rel="stylesheet" href="${basePath}/assets/${escapeHtml(f)}">`).join('');
  const scripts = (page.scripts ?? []).map((f) => `<script src="${basePath}/assets/${escapeHtml(f)}" defer></script>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)} · wecom-gateway</title>${styles}${scripts}</head>
<body data-base="${escapeHtml(basePath)}"><header><strong>wecom-gateway</strong><nav>${nav}</nav></header>
<main>${page.body}</main></body></html>`;
}

/** The console's static files: its own, and uPlot's from node_modules (the page works offline, no CDN). */
export function consoleAssets(): Router {
  const router = express.Router();
  router.use(express.static(CONSOLE_ASSETS, { index: false, maxAge: '1h' }));
  return router;
}
