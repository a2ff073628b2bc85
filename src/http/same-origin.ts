import type { Request, RequestHandler } from 'express';
import { ApiError } from './errors';

const LOCAL_HOST = /^(localhost|127\.0\.0\.1|\[::1\])(:\d{1,5})?$/i;

/** Whether a Host header names this machine (localhost, 127.0.0.1 or [::1], any port): what a DNS-rebinding page cannot send. */
export function namesLocalHost(host: string | undefined): boolean {
  return LOCAL_HOST.test(host ?? '');
}

/** Methods that change something: the ones another site's page can make a browser send with the user's credentials. */
const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** What Sec-Fetch-Site says of a request the user made on the page itself (or typed: `none`). */
const OWN_SITE = new Set(['same-origin', 'none']);

/** `host[:port]` in lower case, without the scheme's default port, so that `gw.example` and `gw.example:443` compare equal. */
function hostOf(host: string): string {
  return host.toLowerCase().replace(/:(80|443)$/, '');
}

/**
 * Whether a browser sent this request from another site's page. The Origin's host
 * is compared with the host the request was sent to (the Host header, or a trusted
 * proxy's X-Forwarded-Host), not its scheme: behind a TLS proxy that does not say
 * so (no TRUST_PROXY) the page is https and the request arrives as http. Without
 * Origin, Sec-Fetch-Site decides; a client that sends neither (curl, a service)
 * is not a browser, and no other site can make it post.
 */
export function fromAnotherSite(req: Request): boolean {
  const origin = req.get('origin');
  if (origin !== undefined) {
    // `null`: an opaque origin (a sandboxed frame, a redirect across sites); it names no site of ours.
    const host = URL.canParse(origin) ? new URL(origin).host : undefined;
    return host === undefined || host === '' || hostOf(host) !== hostOf(req.host ?? '');
  }
  const site = req.get('sec-fetch-site');
  return site !== undefined && !OWN_SITE.has(site);
}

/**
 * 403 cross_site (saying `why`) for an unsafe request a browser sent from another
 * site; undefined for the rest. Reads pass: without CORS a browser hands another
 * site no answer.
 */
export function crossSiteRefusal(req: Request, why: string): ApiError | undefined {
  return UNSAFE_METHODS.has(req.method) && fromAnotherSite(req) ? new ApiError(403, 'cross_site', why) : undefined;
}

/** crossSiteRefusal as a middleware. */
export function sameOriginOnly(why: string): RequestHandler {
  return (req, _res, next) => next(crossSiteRefusal(req, why));
}
