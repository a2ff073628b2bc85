import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The floor plan the READMEs promise (their Layout blocks) and the habits that keep the code readable. */
const root = join(__dirname, '../..');

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? [path, ...walk(path)] : [path];
  });
}

const srcEntries = walk(join(root, 'src')).map((path) => relative(join(root, 'src'), path));
const srcFolders = srcEntries.filter((path) => statSync(join(root, 'src', path)).isDirectory());
const codeFiles = ['src', 'test', 'bench'].flatMap((dir) => walk(join(root, dir))).filter((path) => path.endsWith('.ts'));

/** The fenced block under the README's Layout heading: top-level entries at two spaces, what each holds after them. */
function layoutBlock(readme: string, heading: string): string {
  const text = readFileSync(join(root, readme), 'utf8');
  const start = text.indexOf('```', text.indexOf(`## ${heading}`));
  return text.slice(start + 3, text.indexOf('```', start + 3));
}

/** Each top-level entry under src/ with the text that describes it (its own lines, up to the next entry). */
function srcEntriesOf(block: string): Map<string, string> {
  const entries = new Map<string, string>();
  let current: string | undefined;
  for (const line of block.split('\n')) {
    const entry = /^ {2}(\S+(?:\/|\.ts))\s/.exec(line);
    if (/^\S/.test(line)) current = undefined;
    else if (entry) current = entry[1];
    if (current) entries.set(current, `${entries.get(current) ?? ''}${line}\n`);
  }
  return entries;
}

describe('the house', () => {
  for (const [readme, heading] of [
    ['README.md', 'Layout'],
    ['README.zh-CN.md', '目录结构'],
  ]) {
    it(`when ${readme}'s ${heading} is read, then it names every folder and top-level file of src/, and nothing that is gone`, () => {
      const entries = srcEntriesOf(layoutBlock(readme, heading));
      const topLevel = srcEntries.filter((path) => !path.includes('/')).map((path) => (path.endsWith('.ts') ? path : `${path}/`));
      expect([...entries.keys()].sort()).toEqual(topLevel.sort());
      // A folder inside a room is named in its room's description, as "child/".
      const unnamed = srcFolders
        .filter((path) => path.includes('/'))
        .filter((path) => {
          const [room, ...rest] = path.split('/');
          return !(entries.get(`${room}/`) ?? '').includes(`${rest.join('/')}/`);
        });
      expect(unnamed).toEqual([]);
    });
  }

  // A test's title is its one sentence (found whole by grep), and a table in a comment cannot wrap: both may run longer.
  // A title is the line that opens a test, or a "when …, then …" sentence on a line of its own (it.each's, a helper's).
  const isTitle = (line: string) => /^\s*(it|test|describe)(\.each\(.*\))?\(['"`]/.test(line) || /^\s*['"`]when .*, then /i.test(line);
  const mayRunLong = (line: string) => isTitle(line) || /^\s*\* \|/.test(line);

  it('when any TypeScript line is read, then none is over 140 characters but test titles and comment tables', () => {
    const long = codeFiles.flatMap((path) =>
      readFileSync(path, 'utf8')
        .split('\n')
        .map((line, index) => ({ line, at: `${relative(root, path)}:${index + 1} (${line.length})` }))
        .filter(({ line }) => line.length > 140 && !mayRunLong(line))
        .map(({ at }) => at),
    );
    expect(long).toEqual([]);
  });

  // A file longer than this holds more than one concept: split it where the concepts part.
  it('when any source file is measured, then none is over 300 lines', () => {
    const long = codeFiles
      .filter((path) => path.startsWith(join(root, 'src')))
      .filter((path) => readFileSync(path, 'utf8').split('\n').length > 300)
      .map((path) => relative(root, path));
    expect(long).toEqual([]);
  });
});
