import { MessageLimitError } from '../../src/wecom/limits';

/** `run` throws a MessageLimitError naming `field`, with a message matching `message`. */
export function expectLimit(run: () => unknown, field: string, message: string | RegExp): void {
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(MessageLimitError);
  expect((thrown as MessageLimitError).field).toBe(field);
  expect((thrown as MessageLimitError).message).toMatch(message);
}
