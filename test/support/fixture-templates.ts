import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { TEMPLATES_DIR } from './harness';

/** The shipped templates and the named fixture templates (test/fixtures/templates), copied into `dir`/templates; answers that folder. */
export function templatesWith(dir: string, fixtures: string[]): string {
  const templatesDir = join(dir, 'templates');
  cpSync(TEMPLATES_DIR, templatesDir, { recursive: true });
  for (const file of fixtures) cpSync(join(__dirname, '..', 'fixtures', 'templates', file), join(templatesDir, file));
  return templatesDir;
}
