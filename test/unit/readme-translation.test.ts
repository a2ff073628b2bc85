import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { envSchema } from '../../src/config/env-schema';

const ROOT = join(__dirname, '..', '..');

/** The docs, each in English (docs/NAME.md) and in Chinese (docs/zh-CN/NAME.md). */
const DOCS = ['sandbox', 'configuration', 'api', 'alerts', 'drop-in', 'oncall', 'callbacks', 'operations', 'security', 'performance'];

interface Pair {
  english: string;
  chinese: string;
  /** What the English file's first lines link to (its Chinese twin), and the Chinese file's (its English one). */
  toChinese: string;
  toEnglish: string;
}

const PAIRS: Pair[] = [
  { english: 'README.md', chinese: 'README.zh-CN.md', toChinese: '[简体中文](README.zh-CN.md)', toEnglish: '[English](README.md)' },
  ...DOCS.map((name) => ({
    english: `docs/${name}.md`,
    chinese: `docs/zh-CN/${name}.md`,
    toChinese: `[简体中文](zh-CN/${name}.md)`,
    toEnglish: `[English](../${name}.md)`,
  })),
];

/** A file of the repository; a Chinese twin not written yet fails with its name. */
function read(file: string, twinOf?: string): string {
  if (!existsSync(join(ROOT, file))) throw new Error(`${file} does not exist${twinOf ? ` (the Chinese translation of ${twinOf})` : ''}`);
  return readFileSync(join(ROOT, file), 'utf8');
}

/**
 * The variables a configuration table lists: the backticked names in each row's first cell, in the section
 * headed `heading` (the last heading of that text at level 1 or 2, so a `# Title` above a `## Title` is passed
 * over), up to the next heading of level 1 or 2.
 */
function configuredVariables(markdown: string, file: string, heading: string): string[] {
  const lines = markdown.split('\n');
  const start = lines
    .map((line, i) => (line.trim() === `# ${heading}` || line.trim() === `## ${heading}` ? i : -1))
    .filter((i) => i >= 0)
    .pop();
  if (start === undefined) throw new Error(`${file} has no "## ${heading}" section`);
  const after = lines.slice(start + 1);
  const end = after.findIndex((line) => /^#{1,2} /.test(line));
  const rows = (end < 0 ? after : after.slice(0, end)).filter((line) => line.startsWith('| `'));
  return [...new Set(rows.flatMap((row) => [...row.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1])))].sort();
}

/**
 * Every ```sh block (the ones test/e2e/readme.test.ts runs), without its
 * comment lines (`#`, but not `# =>`), which a translation may translate.
 */
function shBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) =>
    m[1]
      .split('\n')
      .filter((line) => !(line.startsWith('#') && !line.startsWith('# =>')))
      .join('\n'),
  );
}

describe('the docs and their Chinese translations', () => {
  it('when both configuration pages list the environment variables, then they list the same ones', () => {
    const english = configuredVariables(read('docs/configuration.md'), 'docs/configuration.md', 'Configuration');
    const chinese = configuredVariables(
      read('docs/zh-CN/configuration.md', 'docs/configuration.md'),
      'docs/zh-CN/configuration.md',
      '配置',
    );
    expect({
      missingInChinese: english.filter((v) => !chinese.includes(v)),
      missingInEnglish: chinese.filter((v) => !english.includes(v)),
    }).toEqual({ missingInChinese: [], missingInEnglish: [] });
    expect(english.length).toBeGreaterThan(50);
  });

  it('when a variable is listed, then the gateway reads it, and every variable it reads is listed', () => {
    const english = configuredVariables(read('docs/configuration.md'), 'docs/configuration.md', 'Configuration');
    const known = Object.keys(envSchema.shape).sort();
    expect({
      listedButUnknown: english.filter((v) => !known.includes(v)),
      readButUnlisted: known.filter((v) => !english.includes(v)),
    }).toEqual({ listedButUnknown: [], readButUnlisted: [] });
  });

  it.each(PAIRS)(
    'when a reader opens $english or $chinese, then it links to the other at the top',
    ({ english, chinese, toChinese, toEnglish }) => {
      const top = (text: string) => text.split('\n').slice(0, 5).join('\n');
      expect(top(read(english))).toContain(toChinese);
      expect(top(read(chinese, english))).toContain(toEnglish);
    },
  );

  it.each(PAIRS)('when $chinese is run as $english is, then its sh blocks are the same but for comment lines', ({ english, chinese }) => {
    expect(shBlocks(read(chinese, english))).toEqual(shBlocks(read(english)));
  });
});
