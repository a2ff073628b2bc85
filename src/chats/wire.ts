import type { Core, Flow } from '../core';
import type { AppChoice } from '../wecom/app';
import { ChatDirectory } from './chat-directory';
import { chatRoutes } from './routes';

export interface ChatsFlow extends Flow {
  /** The chats each app may send to (the send pipeline refuses others at POST time). */
  directory: ChatDirectory;
}

/** App group chats (appchat): created and read through the gateway, sent to by the send pipeline. */
export function wireChats(core: Core, config: AppChoice): ChatsFlow {
  const directory = new ChatDirectory(core.redis, core.keys);
  return { directory, routes: chatRoutes(config, core.api, directory) };
}
