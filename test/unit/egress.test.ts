import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EGRESS_REFUSED, EgressPolicy, EgressRefusedError, egressAllowProblem, NOT_HTTP, type Resolve } from '../../src/http/egress';
import { egressAgent, egressRequest } from '../../src/http/egress-request';

const policy = (allow: string[] = [], privateRanges: 'allow' | 'deny' = 'allow', resolve?: Resolve) =>
  new EgressPolicy({ allow, privateRanges }, [], resolve);

describe('the egress policy, address by address', () => {
  const byDefault = policy();
  const privateDenied = policy([], 'deny');

  it.each([
    ['loopback', '127.0.0.1'],
    ['loopback, anywhere in 127/8', '127.1.2.3'],
    ['IPv6 loopback', '::1'],
    ['link-local', '169.254.10.1'],
    ['IPv6 link-local', 'fe80::1'],
    ['unspecified (reaches the host itself)', '0.0.0.0'],
    ['IPv6 unspecified', '::'],
    ['multicast', '224.0.0.1'],
    ['IPv6 multicast', 'ff02::1'],
    ['broadcast', '255.255.255.255'],
    ['AWS/GCP/Azure metadata', '169.254.169.254'],
    ['Alibaba Cloud metadata (inside 100.64/10, which is allowed)', '100.100.100.200'],
    ['AWS IPv6 metadata (inside fc00::/7, which is allowed)', 'fd00:ec2::254'],
    ['IPv4-mapped loopback, judged as its IPv4', '::ffff:127.0.0.1'],
    ['IPv4-mapped metadata, in hex', '::ffff:a9fe:a9fe'],
  ])('refuses %s (%s)', (_what, address) => {
    expect(byDefault.refusesAddress(address, 80)).toBe(true);
  });

  it.each([
    ['public', '93.184.216.34'],
    ['public IPv6', '2606:2800:220:1:248:1893:25c8:1946'],
    ['10/8', '10.1.2.3'],
    ['172.16/12', '172.31.0.1'],
    ['192.168/16', '192.168.1.10'],
    ['100.64/10', '100.64.0.1'],
    ['fc00::/7', 'fd12:3456::1'],
    ['IPv4-mapped private', '::ffff:10.0.0.1'],
  ])('allows %s (%s)', (_what, address) => {
    expect(byDefault.refusesAddress(address, 80)).toBe(false);
  });

  it.each(['10.1.2.3', '172.16.0.1', '192.168.1.10', '100.64.0.1', 'fd12:3456::1', '::ffff:192.168.0.1'])(
    'with EGRESS_PRIVATE=deny, refuses the private %s but still allows public addresses',
    (address) => {
      expect(privateDenied.refusesAddress(address, 80)).toBe(true);
      expect(privateDenied.refusesAddress('93.184.216.34', 80)).toBe(false);
    },
  );

  it.each([
    ['IPv4-compatible loopback (deprecated ::/96: refused outright)', '::127.0.0.1'],
    ['IPv4-compatible public address, refused all the same', '::93.184.216.34'],
    ['NAT64 of loopback, judged as its IPv4', '64:ff9b::127.0.0.1'],
    ['NAT64 of the metadata address, in hex', '64:ff9b::a9fe:a9fe'],
    ['6to4 of loopback, judged as its IPv4', '2002:7f00:1::1'],
    ['6to4 of the metadata address', '2002:a9fe:a9fe::'],
  ])('refuses %s (%s)', (_what, address) => {
    expect(byDefault.refusesAddress(address, 80)).toBe(true);
  });

  it('judges NAT64 and 6to4 addresses by the IPv4 they embed: public passes, private follows EGRESS_PRIVATE, EGRESS_ALLOW opens', () => {
    expect(byDefault.refusesAddress('64:ff9b::93.184.216.34', 80)).toBe(false);
    expect(byDefault.refusesAddress('2002:5db8:d822::1', 80)).toBe(false);
    expect(byDefault.refusesAddress('64:ff9b::10.0.0.1', 80)).toBe(false);
    expect(privateDenied.refusesAddress('64:ff9b::10.0.0.1', 80)).toBe(true);
    expect(privateDenied.refusesAddress('2002:c0a8:101::1', 80)).toBe(true);
    expect(policy(['127.0.0.1']).refusesAddress('64:ff9b::127.0.0.1', 80)).toBe(false);
    expect(policy(['127.0.0.1']).refusesAddress('::127.0.0.1', 80)).toBe(true);
  });

  it('opens what EGRESS_ALLOW names, by CIDR or single address, and nothing beside it', () => {
    const allowed = policy(['127.0.0.0/8', '169.254.5.5', 'fe80::/10', '10.9.0.0/16'], 'deny');
    expect(allowed.refusesAddress('127.0.0.1', 80)).toBe(false);
    expect(allowed.refusesAddress('::ffff:127.0.0.2', 80)).toBe(false);
    expect(allowed.refusesAddress('169.254.5.5', 80)).toBe(false);
    expect(allowed.refusesAddress('169.254.5.6', 80)).toBe(true);
    expect(allowed.refusesAddress('fe80::abcd', 80)).toBe(false);
    expect(allowed.refusesAddress('10.9.1.1', 80)).toBe(false);
    expect(allowed.refusesAddress('10.8.1.1', 80)).toBe(true);
    expect(allowed.refusesAddress('::1', 80)).toBe(true);
  });

  it('opens a metadata address only when EGRESS_ALLOW names it exactly, not through a range opened for a network', () => {
    expect(policy(['169.254.0.0/16', '100.64.0.0/10']).refusesAddress('169.254.169.254', 80)).toBe(true);
    expect(policy(['169.254.0.0/16', '100.64.0.0/10']).refusesAddress('100.100.100.200', 80)).toBe(true);
    expect(policy(['169.254.169.254']).refusesAddress('169.254.169.254', 80)).toBe(false);
  });

  it("refuses the gateway's own listeners, on any of its addresses, even where EGRESS_ALLOW opens the address", () => {
    const own = new EgressPolicy({ allow: ['127.0.0.1'], privateRanges: 'allow' }, [
      { address: '127.0.0.1', port: 8080 },
      { address: '10.0.0.5', port: 8080 },
    ]);
    expect(own.refusesAddress('127.0.0.1', 8080)).toBe(true);
    expect(own.refusesAddress('::ffff:127.0.0.1', 8080)).toBe(true);
    expect(own.refusesAddress('10.0.0.5', 8080)).toBe(true);
    expect(own.refusesAddress('10.0.0.5', 9090)).toBe(false);
    expect(own.refusesAddress('127.0.0.1', 9090)).toBe(false);
  });
});

describe('the egress policy on a URL, without DNS (accept time)', () => {
  it.each([
    ['a loopback literal', 'http://127.0.0.1:9000/x'],
    ['loopback written as a number', 'http://2130706433/'],
    ['loopback written in hex', 'http://0x7f.1/'],
    ['an IPv6 loopback literal', 'http://[::1]:8080/'],
    ['an IPv4-mapped literal', 'http://[::ffff:127.0.0.1]/'],
    ['localhost', 'http://localhost:9000/report.pdf'],
    ['localhost, upper case with a trailing dot', 'https://LOCALHOST./'],
    ['a name under .localhost', 'http://api.localhost/'],
    ['the metadata address', 'http://169.254.169.254/latest/meta-data/'],
    ['a metadata name', 'http://metadata.google.internal/computeMetadata/v1/'],
    ['Alibaba Cloud metadata', 'http://100.100.100.200/latest/meta-data/'],
    ['an IPv4-compatible loopback literal', 'http://[::127.0.0.1]/'],
    ['a NAT64 loopback literal', 'http://[64:ff9b::127.0.0.1]/'],
    ['a 6to4 loopback literal', 'http://[2002:7f00:1::]/'],
  ])('refuses %s', (_what, url) => {
    expect(policy().refusal(url)).toBe(EGRESS_REFUSED);
  });

  it.each([
    ['a public name', 'https://reports.example/q3.pdf'],
    ['a private literal', 'http://10.1.2.3:8000/file'],
    ['a public literal', 'http://93.184.216.34/'],
  ])('lets %s through to the connect-time check', (_what, url) => {
    expect(policy().refusal(url)).toBeUndefined();
  });

  it.each(['ftp://example.com/x', 'file:///etc/passwd', 'not a url', 'gopher://127.0.0.1:6379/_INFO'])(
    'answers %s is not an http(s) URL',
    (url) => {
      expect(policy().refusal(url)).toBe(NOT_HTTP);
    },
  );

  it('opens a name EGRESS_ALLOW names, case-insensitively, and only that name', () => {
    const allowed = policy(['Localhost', 'files.internal']);
    expect(allowed.refusal('http://localhost:9000/')).toBeUndefined();
    expect(allowed.refusal('http://FILES.internal/')).toBeUndefined();
    expect(allowed.refusal('http://api.localhost/')).toBe(EGRESS_REFUSED);
    expect(allowed.refusal('http://127.0.0.1/')).toBe(EGRESS_REFUSED);
  });

  it('a private literal is refused with EGRESS_PRIVATE=deny', () => {
    expect(policy([], 'deny').refusal('http://192.168.1.1/')).toBe(EGRESS_REFUSED);
  });
});

describe('EGRESS_ALLOW entries', () => {
  it.each(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8', 'files.internal', 'localhost'])('reads %s', (entry) => {
    expect(egressAllowProblem(entry)).toBeUndefined();
  });

  it.each(['10.0.0.0/33', '10.0.0/8', 'fd00::/129', 'files.internal/8', 'http://x/', 'a b'])('names the bad entry %s', (entry) => {
    expect(egressAllowProblem(entry)).toContain(entry);
    expect(() => policy([entry])).toThrow(entry);
  });
});

describe('resolving a name once, checking every address', () => {
  const resolver = (answers: Record<string, string[]>) => {
    const asked: string[] = [];
    const resolve: Resolve = async (host) => {
      asked.push(host);
      return (answers[host] ?? []).map((address) => ({ address }));
    };
    return { asked, resolve };
  };

  it('answers the checked address of a name', async () => {
    const { resolve } = resolver({ 'reports.example': ['93.184.216.34'] });
    await expect(policy([], 'allow', resolve).addressFor('reports.example', 443)).resolves.toBe('93.184.216.34');
  });

  it('refuses a name when any of its addresses is refused (the answer is the name owner’s to choose)', async () => {
    const { resolve } = resolver({ 'rebind.example': ['93.184.216.34', '127.0.0.1'], 'meta.example': ['169.254.169.254'], nothing: [] });
    const p = policy([], 'allow', resolve);
    await expect(p.addressFor('rebind.example', 80)).rejects.toBeInstanceOf(EgressRefusedError);
    await expect(p.addressFor('meta.example', 80)).rejects.toBeInstanceOf(EgressRefusedError);
    await expect(p.addressFor('nothing', 80)).rejects.toBeInstanceOf(EgressRefusedError);
  });

  it('refuses localhost and metadata names before asking DNS, and checks literals without asking it', async () => {
    const { asked, resolve } = resolver({});
    const p = policy([], 'allow', resolve);
    await expect(p.addressFor('localhost', 80)).rejects.toBeInstanceOf(EgressRefusedError);
    await expect(p.addressFor('metadata.google.internal', 80)).rejects.toBeInstanceOf(EgressRefusedError);
    await expect(p.addressFor('127.0.0.1', 80)).rejects.toBeInstanceOf(EgressRefusedError);
    await expect(p.addressFor('10.0.0.1', 80)).resolves.toBe('10.0.0.1');
    expect(asked).toEqual([]);
  });

  it('a name EGRESS_ALLOW names may resolve anywhere but to the gateway itself', async () => {
    const { resolve } = resolver({ 'files.internal': ['127.0.0.1'] });
    const p = new EgressPolicy({ allow: ['files.internal'], privateRanges: 'deny' }, [{ address: '127.0.0.1', port: 8080 }], resolve);
    await expect(p.addressFor('files.internal', 9000)).resolves.toBe('127.0.0.1');
    await expect(p.addressFor('files.internal', 8080)).rejects.toBeInstanceOf(EgressRefusedError);
  });
});

describe('egressAgent and egressRequest', () => {
  let server: Server;
  let port = 0;
  let hosts: string[] = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      hosts.push(String(req.headers.host));
      res.end('hello');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  beforeEach(() => (hosts = []));

  it('connects to the address it checked, resolved once, and keeps the name in the request', async () => {
    const asked: string[] = [];
    const p = new EgressPolicy({ allow: ['127.0.0.1'], privateRanges: 'allow' }, [], async (host) => {
      asked.push(host);
      return [{ address: '127.0.0.1' }];
    });
    const agent = egressAgent(p, { timeoutMs: 2_000 });
    try {
      const answer = await egressRequest(`http://files.example:${port}/a`, { dispatcher: agent, timeoutMs: 2_000, maxBytes: 100 });
      expect(answer).toEqual({ kind: 'response', statusCode: 200, body: Buffer.from('hello') });
      expect(hosts).toEqual([`files.example:${port}`]);
      expect(asked).toEqual(['files.example']);
    } finally {
      await agent.close();
    }
  });

  it('a refused address is never connected to, and the answer says only that it was refused', async () => {
    const agent = egressAgent(policy(), { timeoutMs: 2_000 });
    try {
      expect(await egressRequest(`http://127.0.0.1:${port}/a`, { dispatcher: agent, timeoutMs: 2_000 })).toEqual({
        kind: 'refused',
        reason: EGRESS_REFUSED,
        permanent: true,
      });
      expect(await egressRequest(`http://[::ffff:127.0.0.1]:${port}/a`, { dispatcher: agent, timeoutMs: 2_000 })).toEqual({
        kind: 'refused',
        reason: EGRESS_REFUSED,
        permanent: true,
      });
      expect(hosts).toEqual([]);
    } finally {
      await agent.close();
    }
  });

  it('a body beyond the cap is cut, with the cap in the reason', async () => {
    const agent = egressAgent(policy(['127.0.0.1']), { timeoutMs: 2_000 });
    try {
      expect(await egressRequest(`http://127.0.0.1:${port}/a`, { dispatcher: agent, timeoutMs: 2_000, maxBytes: 3 })).toEqual({
        kind: 'failed',
        reason: 'larger than 3 bytes',
        permanent: true,
      });
    } finally {
      await agent.close();
    }
  });
});

describe('egressRequest with a minimum transfer rate', () => {
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/silent') return;
      if (req.url === '/late-then-fast') return void setTimeout(() => res.end(Buffer.alloc(10_000, 1)), 250);
      res.writeHead(200);
      const tick = setInterval(() => res.write('x'), 100);
      res.on('close', () => clearInterval(tick));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const minRate = { bytesPerSecond: 1_000, graceMs: 500 };

  it.each(['/trickle', '/silent'])(
    'cuts %s once it falls behind the rate by more than the grace: "too slow", permanent, long before the timeout',
    async (path) => {
      const started = Date.now();
      const answer = await egressRequest(`${base}${path}`, { timeoutMs: 10_000, maxBytes: 1_000_000, minRate });
      expect(answer).toEqual({ kind: 'failed', reason: 'too slow', permanent: true });
      expect(Date.now() - started).toBeLessThan(3_000);
    },
  );

  it('lets a download that starts late but catches up finish (the grace is a head start)', async () => {
    const answer = await egressRequest(`${base}/late-then-fast`, { timeoutMs: 10_000, maxBytes: 1_000_000, minRate });
    expect(answer).toMatchObject({ kind: 'response', statusCode: 200 });
    expect((answer as { body: Buffer }).body).toHaveLength(10_000);
  });

  it('without a minimum rate, only the whole-download timeout cuts a trickle (and it may be retried)', async () => {
    expect(await egressRequest(`${base}/trickle`, { timeoutMs: 700, maxBytes: 1_000_000 })).toEqual({
      kind: 'failed',
      reason: 'timeout',
      permanent: false,
    });
  });
});
