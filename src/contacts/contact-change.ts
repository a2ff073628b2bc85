import type { ContactUser } from '../wecom/callback/contact-change';

/** Personal data: never logged, masked in API answers unless the caller may see it. */
export const PERSONAL_FIELDS = ['mobile', 'email', 'bizMail', 'telephone', 'address'] as const satisfies readonly (keyof ContactUser)[];
