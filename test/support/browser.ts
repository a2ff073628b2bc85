import { chromium, type Browser } from 'playwright-core';
import { binaryPath } from './prerequisites';

/**
 * Debian's Chromium as every e2e test runs it: headless, without the background
 * connections (updates, sync, QUIC probes) that this machine's closed network refuses.
 * `extraArgs` adds a test's own flags (e.g. `--host-resolver-rules` for a non-loopback name).
 */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: binaryPath('chromium'),
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      ...extraArgs,
    ],
  });
}
