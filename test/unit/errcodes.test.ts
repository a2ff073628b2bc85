import { classifyErrcode, errcodeHint, ipFromErrmsg } from '../../src/wecom/errcodes';

describe('errcode table', () => {
  it.each([
    [0, 'ok'],
    [40014, 'token'],
    [42001, 'token'],
    [40001, 'token'],
    [-1, 'retry'],
    [45009, 'retry'],
    [40003, 'permanent'],
    [81013, 'permanent'],
    [60020, 'permanent'],
    [99999, 'permanent'],
  ])('when WeCom answers %s, then the class is %s', (errcode, expected) => {
    expect(classifyErrcode(errcode)).toBe(expected);
  });

  it.each([
    [
      'not allow to access from your ip, hint: [1700000000_12_abc], from ip: ' +
        '203.0.113.7, more info at https://open.work.weixin.qq.com/devtool/query?e=60020',
      '203.0.113.7',
    ],
    [
      'not allow to access from your ip, from ip: 2001:db8::7, more info at https://open.work.weixin.qq.com/devtool/query?e=60020',
      '2001:db8::7',
    ],
    ['from ip:198.51.100.20', '198.51.100.20'],
  ])('when a 60020 errmsg reads "%s", then the hint names %s', (errmsg, ip) => {
    expect(ipFromErrmsg(errmsg)).toBe(ip);
    expect(errcodeHint(60020, errmsg)).toContain(`add ${ip} to the app's trusted IPs`);
  });

  it('when a 60020 errmsg carries no address, then the generic hint is given', () => {
    expect(errcodeHint(60020, 'not allow to access from your ip')).toMatch(/trusted IPs/);
  });
});

describe('errcode hints', () => {
  // Every code of the WeCom reference's table (§4) that the gateway can meet, and the gateway's own.
  const CODES = [
    -5, -4, -3, -2, -1, 6000, 40001, 40003, 40004, 40005, 40006, 40007, 40008, 40013, 40014, 40031, 40032, 40033, 40056, 40058, 40063,
    40068, 40096, 40098, 40099, 41001, 41004, 41011, 41016, 41033, 41041, 41044, 41045, 41049, 41050, 41051, 41053, 41054, 41096, 42001,
    44004, 45002, 45009, 45033, 48001, 48002, 60011, 60020, 60111, 81013, 82001, 84061, 301002,
  ];

  it.each(CODES)('when WeCom answers %i, then the status carries a hint saying what it means', (code) => {
    expect(errcodeHint(code)).toEqual(expect.any(String));
  });
});
