import type { DirectoryOptions } from './directory';
import type { SimulatorApp } from './host';

/** What a simulator is told when it starts: the tests' and the sandbox's knobs. */
export interface SimulatorOptions {
  apps?: SimulatorApp[];
  tokenTtlSeconds?: number;
  /** 企业可信IP: calls with a token from other addresses answer 60020 naming the caller's (fixed at start). */
  trustedIps?: string[];
  latencyMs?: number;
  /**
   * WeCom's silent per-member limit on app messages (default 30 per minute and
   * 1000 per hour): beyond it the send answers ok and the member gets nothing.
   */
  memberLimits?: { count: number; windowMs: number }[];
  /**
   * The corp's members, departments and tags: message/send answers unknown ones in
   * invaliduser (81013 when none is left), as WeCom does. An omitted list = every
   * well-formed id exists (tests that send to anyone); the sandbox gives its members.
   */
  directory?: DirectoryOptions;
  /**
   * Given (sandbox mode), a message/send with markup WeCom does not render is
   * accepted, as WeCom does, and reported here. Omitted (tests), it is refused
   * with 40058 so the test fails loudly.
   */
  onMarkupProblem?: (problems: string[], body: Record<string, unknown>) => void;
  /**
   * The simulator's address as a phone on the LAN reaches it (sandbox
   * SIMULATOR_PUBLIC_URL): contact-way QR codes point there. Given, the
   * simulator listens on all interfaces, so its /__sim controls (messages,
   * faults, reset, scans) are reachable from the LAN too: for sandbox demos only.
   */
  publicUrl?: string;
  /** The group robots' keys that exist (webhook/send); omitted = every key of [A-Za-z0-9-]{1,128}. */
  robotKeys?: string[];
  /** Accepted messages per robot key per rolling window (default 20 per 60 000 ms, reference §13); beyond, 45009. */
  robotLimit?: { count: number; windowMs: number };
  /** How long an interactive card's response_code is valid (default 72 h, reference §2.3); small in tests that expire codes. */
  responseCodeTtlMs?: number;
}
