import type { Robot } from '../wecom/group-chat';
import { parseRobotKey } from '../wecom/robot-url';

const ROBOT_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Robots from WECOM_ROBOTS (`name=KEY_OR_URL,…`) and the config file's
 * `robots:` (a name to a key or URL, or to a list of them: a pool). Problems are
 * pushed one line each, naming the variable or file and the robot.
 */
export function loadRobots(
  sources: { env?: string; file?: Record<string, string | string[]>; filePath?: string },
  apiBase: string,
  defaultApiBase: string,
  problems: string[],
): Robot[] {
  const bases = [...new Set([defaultApiBase, apiBase])];
  const robots = new Map<string, Robot>();
  const add = (where: string, name: string, values: string[]) => {
    if (!ROBOT_NAME.test(name)) return void problems.push(`${where}: robot names are 1-64 letters, digits, _ or -`);
    if (robots.has(name)) return void problems.push(`${where}: robot ${name} is named twice`);
    const keys: string[] = [];
    let robotBase: string | undefined;
    values.forEach((value, i) => {
      const parsed = parseRobotKey(value, bases, apiBase);
      const which = values.length > 1 ? ` key ${i + 1}` : '';
      if (typeof parsed === 'string') return void problems.push(`${where}: robot ${name}${which} ${parsed}`);
      if (robotBase !== undefined && parsed.apiBase !== robotBase)
        return void problems.push(`${where}: robot ${name}${which}: all keys of a pool must point at the same API base`);
      robotBase = parsed.apiBase;
      if (keys.includes(parsed.key)) return void problems.push(`${where}: robot ${name}${which} repeats a key`);
      keys.push(parsed.key);
    });
    if (keys.length === values.length && robotBase) robots.set(name, { name, keys, apiBase: robotBase });
  };
  for (const entry of (sources.env ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const at = entry.indexOf('=');
    if (at <= 0) {
      problems.push('WECOM_ROBOTS: expected name=KEY or name=URL, comma-separated');
      continue;
    }
    add('WECOM_ROBOTS', entry.slice(0, at).trim(), [entry.slice(at + 1)]);
  }
  for (const [name, value] of Object.entries(sources.file ?? {}))
    add(`${sources.filePath}: robots.${name}`, name, Array.isArray(value) ? value : [value]);
  return [...robots.values()];
}
