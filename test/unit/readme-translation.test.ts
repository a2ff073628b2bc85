import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { envSchema } from '../../src/config/env-schema';

const ROOT = join(__dirname, '..', '..');
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

/** The variables a README's configuration table lists: the backticked names in each row's first cell. */
function configuredVariables(readme: string, heading: string): string[] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`no "## ${heading}" section`);
  const end = readme.indexOf('\n## ', start + 1);
  const rows = readme.slice(start, end < 0 ? undefined : end).split('\n').filter((line) => line.startsWith('| `'));
  return [...new Set(rows.flatMap((row) => [...row.split('|')[1].matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1])))].sort();
}

const english = configuredVariables(read('README.md'), 'Configuration');
const chinese = configuredVariables(read('README.zh-CN.md'), '配置');

describe('README.md and README.zh-CN.md', () => {
  it('when both list the environment variables, then they list the same ones', () => {
    expect({ missingInChinese: english.filter((v) => !chinese.includes(v)), missingInEnglish: chinese.filter((v) => !english.includes(v)) }).toEqual({ missingInChinese: [], missingInEnglish: [] });
    expect(english.length).toBeGreaterThan(50);
  });

  it('when a variable is listed, then the gateway reads it, and every variable it reads is listed', () => {
    const read = Object.keys(envSchema.shape).sort();
    expect({ listedButUnknown: english.filter((v) => !read.includes(v)), readButUnlisted: read.filter((v) => !english.includes(v)) }).toEqual({ listedButUnknown: [], readButUnlisted: [] });
  });

  it('when a reader opens either, then it links to the other at the top', () => {
    expect(read('README.md').split('\n').slice(0, 5).join('\n')).toContain('[简体中文](README.zh-CN.md)');
    expect(read('README.zh-CN.md').split('\n').slice(0, 5).join('\n')).toContain('[English](README.md)');
  });
});
