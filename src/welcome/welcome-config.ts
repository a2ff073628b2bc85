import type { AppChoice } from '../wecom/app';

export interface WelcomeConfig {
  timeZone: string;
  /** The customer-contact (客户联系) secret, when the default app's own has no such permission. */
  customerContactSecret?: string;
}

/** What the welcome flow reads from the configuration (wire.ts). */
export interface WelcomeSettings extends AppChoice {
  welcome: WelcomeConfig;
  /** WORKERS: the worker roles this instance runs. */
  workers: Set<string>;
}
