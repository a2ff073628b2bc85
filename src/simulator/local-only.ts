import type { RequestHandler } from 'express';
import { crossSiteRefusal, namesLocalHost } from '../http/same-origin';

/**
 * The sandbox's simulator holds what it delivered (/__sim/messages) and takes
 * controls (reset, faults, clicks) without a key. A page on another site could
 * rebind its own name to 127.0.0.1 and read or drive it: only requests naming a
 * local host (or SIMULATOR_PUBLIC_URL's, for phones on the LAN) are answered, and
 * a control a browser sent from another site is refused. The caller's Host is not
 * repeated back.
 */
export function localOnly(publicUrl: string | undefined): RequestHandler {
  const publicHost = publicUrl && URL.canParse(publicUrl) ? new URL(publicUrl).host.toLowerCase() : undefined;
  return (req, res, next) => {
    const host = (req.headers.host ?? '').toLowerCase();
    if (!namesLocalHost(host) && host !== publicHost) {
      return void res.status(403).json({
        error:
          'the WeCom simulator answers requests to localhost, 127.0.0.1 or [::1] only ' +
          "(and to SIMULATOR_PUBLIC_URL's host when set): this one names another host",
      });
    }
    const crossSite = req.path.startsWith('/__sim/')
      ? crossSiteRefusal(req, "the simulator's controls are not taken from a page on another site")
      : undefined;
    if (crossSite) return void res.status(403).json({ error: crossSite.message });
    next();
  };
}
