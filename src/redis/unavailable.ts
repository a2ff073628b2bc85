import { type Cluster, type Command, type Redis, ReplyError } from 'ioredis';

/**
 * Redis did not answer (a command timed out, the connection is closed or reconnecting,
 * its retries are spent) or answered that it cannot take the command now: the caller
 * should retry later. Thrown by the command connections themselves, so that whoever
 * meets one can tell it from a WeCom, webhook or programming error by its type.
 * The message stays ioredis' own: libraries on the connection (BullMQ) read it.
 */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  constructor(cause: Error) {
    super(cause.message, { cause });
  }
}

/**
 * Redis' own answers that mean "not now" (the error code is the reply's first word):
 * a replica during a failover (READONLY), a master without its min-replicas-to-write
 * (NOREPLICAS), loading its data (LOADING), a replica cut from its master (MASTERDOWN),
 * a script running too long (BUSY), a cluster without all its slots (CLUSTERDOWN,
 * TRYAGAIN). Every other reply error (WRONGTYPE, a script's error) is the command's own.
 */
const NOT_NOW_REPLIES = new Set(['READONLY', 'NOREPLICAS', 'LOADING', 'MASTERDOWN', 'BUSY', 'CLUSTERDOWN', 'TRYAGAIN']);

/** A rejection as the caller sees it: Redis' answers stay as they are; the connection's own failures are unavailability. */
function typed(error: Error): Error {
  if (!(error instanceof ReplyError)) return new RedisUnavailableError(error);
  return NOT_NOW_REPLIES.has(error.message.split(' ', 1)[0]) ? new RedisUnavailableError(error) : error;
}

const retyped = new WeakSet<Command>();

/**
 * Every command of `client` (pipelined, scripted, in a transaction alike: all pass
 * through sendCommand) rejects with a RedisUnavailableError when it got no answer.
 * ioredis rejects those with plain Errors that only their text tells apart.
 */
export function typeUnavailability<T extends Redis | Cluster>(client: T): T {
  const send = client.sendCommand.bind(client) as (command: Command, ...rest: unknown[]) => unknown;
  (client as { sendCommand: (command: Command, ...rest: unknown[]) => unknown }).sendCommand = (command, ...rest) => {
    // A command comes back here when it is re-sent (a cluster redirection): wrapped once.
    if (!retyped.has(command)) {
      retyped.add(command);
      const reject = command.reject;
      command.reject = (error: Error) => reject(typed(error));
    }
    return send(command, ...rest);
  };
  return client;
}
