import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load';
import { problemsOf } from '../support/config-problems';

function configFile(yaml: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'oncall-config-')), 'gateway.yaml');
  writeFileSync(path, yaml);
  return path;
}

describe('oncall: in the config file', () => {
  it('when a schedule gives no time zone, then it takes ALERT_TIMEZONE', () => {
    const file = configFile(
      'oncall:\n  - { name: sre, rotation: { users: [ops1, ops2], every: 1d, handoff: "09:00", start: "2026-12-01" } }\n' +
        '  - { name: dba, timezone: Europe/Berlin, rotation: { users: [db1], every: 2w, handoff: "10:30", start: "2026-12-07" } }\n',
    );
    const config = loadConfig({ GATEWAY_CONFIG: file, ALERT_TIMEZONE: 'Asia/Tokyo' });
    expect(config.oncall.map((s) => [s.name, s.timezone])).toEqual([
      ['sre', 'Asia/Tokyo'],
      ['dba', 'Europe/Berlin'],
    ]);
    expect(loadConfig({}).oncall).toEqual([]);
  });

  it('when schedules are bad, then start-up stops with one line per problem, each naming its schedule', () => {
    const file = configFile(
      [
        'oncall:',
        '  - { name: sre, timezone: Mars/Olympus, rotation: { users: [ops1], every: 3x, handoff: "9am", start: "2026-02-30" } }',
        '  - { name: dba, rotation: { users: [], every: 1d, handoff: "09:00", start: "2026-12-01" } }',
        '  - { name: sre, rotation: { users: [a], every: 1w, handoff: "09:00", start: "2026-12-01" } }',
      ].join('\n'),
    );
    expect(problemsOf({ GATEWAY_CONFIG: file })).toEqual([
      `${file}: oncall.0.timezone: schedule sre: "Mars/Olympus" is not an IANA time zone (e.g. Asia/Shanghai)`,
      `${file}: oncall.0.rotation.every: schedule sre: "3x": give Nd (days) or Nw (weeks), e.g. 1d, 1w, 2w`,
      `${file}: oncall.0.rotation.handoff: schedule sre: "9am": give a time HH:MM, e.g. "09:00"`,
      `${file}: oncall.0.rotation.start: schedule sre: "2026-02-30": give a date YYYY-MM-DD, e.g. "2026-12-01"`,
      `${file}: oncall.1.rotation.users: schedule dba: no users: name who takes the shifts, in order`,
      `${file}: oncall.2.name: schedule sre: the name is used twice`,
    ]);
  });

  it('when a schedule has a misspelt key, then it is named', () => {
    const file = configFile('oncall:\n  - { name: sre, rotaton: {} }\n');
    expect(problemsOf({ GATEWAY_CONFIG: file })).toContain(`${file}: oncall.0.rotaton: unknown key`);
  });
});
