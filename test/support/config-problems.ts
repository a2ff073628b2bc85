import { ConfigError, loadConfig } from '../../src/config/load';

/** The start-up problems a configuration would stop with (none = it loads). */
export function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}
