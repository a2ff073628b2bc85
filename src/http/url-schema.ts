import { z } from 'zod';

/** A URL the operator configures (a webhook, an Alertmanager): http or https only. */
export const httpUrl = z.url({ protocol: /^https?$/ });
