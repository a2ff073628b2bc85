/** The push builder lives with the rest of WeCom's protocol; tests keep importing it from here. */
export { encryptedPush, eventXml } from '../../src/wecom/callback/push';
