import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { clientOf, createLimitedServer, gatewayServerLimits } from '../../src/http/server-limits';

/** What the server wrote before it closed the socket, and how long it held it. */
function holdOpen(port: number, send: (socket: Socket) => void): Promise<{ answer: string; heldMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1', () => send(socket));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ answer, heldMs: Date.now() - started }));
  });
}

describe('HTTP server limits', () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createLimitedServer((_req, res) => res.end('ok'), {
      requestTimeoutMs: 1_000,
      headersTimeoutMs: 400,
      keepAliveTimeoutMs: 300,
      maxConnections: 3,
      maxConnectionsPerAddress: 0,
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('when a client never finishes its headers (slowloris), then the server answers 408 and closes within the headers timeout', async () => {
    const { answer, heldMs } = await holdOpen(port, (s) => s.write('GET / HTTP/1.1\r\nHost: x\r\n'));
    expect(answer).toMatch(/^HTTP\/1.1 408/);
    expect(heldMs).toBeLessThan(5_000);
  });

  it('when a client sends its body forever, then the request timeout ends it', async () => {
    const { heldMs } = await holdOpen(port, (s) => {
      s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
      const drip = setInterval(() => (s.writable ? s.write('x') : clearInterval(drip)), 100);
      s.on('close', () => clearInterval(drip));
    });
    expect(heldMs).toBeLessThan(5_000);
  });

  it('when a keep-alive connection sits idle, then the server closes it', async () => {
    const { answer, heldMs } = await holdOpen(port, (s) => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(answer).toMatch(/^HTTP\/1.1 200/);
    expect(heldMs).toBeLessThan(3_000);
  });

  it('when more clients connect than maxConnections, then the extra ones are dropped', async () => {
    const held = await Promise.all(
      Array.from(
        { length: 3 },
        () =>
          new Promise<Socket>((r) => {
            const s = connect(port, '127.0.0.1', () => r(s));
            s.on('error', () => undefined);
          }),
      ),
    );
    const extra = await holdOpen(port, (s) => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(extra.answer).toBe('');
    held.forEach((s) => s.destroy());
  });
});

/**
 * A socket from `from` (any 127/8 address: Linux routes them all to lo) that the
 * server has kept: resolves true once it is still open a moment after connecting.
 */
function kept(port: number, from: string, sockets: Socket[]): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress: from }, () =>
      setTimeout(() => resolve(!socket.destroyed && socket.readyState === 'open'), 100),
    );
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(false));
    sockets.push(socket);
  });
}

describe('HTTP server limits per client address', () => {
  let server: Server;
  let port: number;
  const sockets: Socket[] = [];
  const PROXY = '127.0.0.3';

  beforeAll(async () => {
    server = createLimitedServer((_req, res) => res.end('ok'), {
      requestTimeoutMs: 5_000,
      headersTimeoutMs: 5_000,
      keepAliveTimeoutMs: 5_000,
      maxConnections: 8,
      maxConnectionsPerAddress: 2,
      sharedPeer: (address) => address === PROXY,
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    port = (server.address() as AddressInfo).port;
  });
  afterEach(() => sockets.splice(0).forEach((s) => s.destroy()));
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('while fewer than half of maxConnections are open, then an address may pass its share (an honest burst is not cut)', async () => {
    const results = [
      await kept(port, '127.0.0.6', sockets),
      await kept(port, '127.0.0.6', sockets),
      await kept(port, '127.0.0.6', sockets),
    ];
    expect(results).toEqual([true, true, true]);
  });

  it('when one address holds its share and half of maxConnections are open, then its next socket is refused at once and other addresses are served', async () => {
    expect(await kept(port, '127.0.0.5', sockets)).toBe(true);
    expect(await kept(port, '127.0.0.5', sockets)).toBe(true);
    expect(await kept(port, '127.0.0.2', sockets)).toBe(true);
    expect(await kept(port, '127.0.0.2', sockets)).toBe(true);
    const extra = await holdOpenFrom(port, '127.0.0.2');
    expect(extra).toMatchObject({ answer: '' });
    expect(extra.heldMs).toBeLessThan(1_000);
    expect((await holdOpenFrom(port, '127.0.0.1')).answer).toMatch(/^HTTP\/1.1 200/);
  });

  it('when an address closes its sockets, then its share is free again', async () => {
    expect(await kept(port, '127.0.0.4', sockets)).toBe(true);
    expect(await kept(port, '127.0.0.4', sockets)).toBe(true);
    sockets.splice(0).forEach((s) => s.destroy());
    await new Promise((r) => setTimeout(r, 100));
    expect(await kept(port, '127.0.0.4', sockets)).toBe(true);
    expect(await kept(port, '127.0.0.4', sockets)).toBe(true);
  });

  it('when the address is a trusted proxy (many callers behind it), then only maxConnections bounds it', async () => {
    const results = await Promise.all(Array.from({ length: 6 }, () => kept(port, PROXY, sockets)));
    expect(results).toEqual(Array(6).fill(true));
  });
});

/** Like holdOpen, from a given source address: a plain GET, what came back, how long the socket lived. */
function holdOpenFrom(port: number, from: string): Promise<{ answer: string; heldMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect({ port, host: '127.0.0.1', localAddress: from }, () =>
      socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
    );
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ answer, heldMs: Date.now() - started }));
  });
}

describe('clientOf: whom a peer address stands for', () => {
  it.each([
    ['127.0.0.2', '127.0.0.2'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['2001:db8:1:2:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002::ffff', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ])('%s counts as %s', (address, client) => {
    expect(clientOf(address)).toBe(client);
  });
});

describe("the gateway's limits", () => {
  const limitsWith = (trustProxy?: string) => {
    const app = express();
    if (trustProxy) app.set('trust proxy', trustProxy);
    return gatewayServerLimits({ maxConnections: 1_000, maxConnectionsPerAddress: 100 }, app);
  };

  it('when TRUST_PROXY names the proxies, then only their sockets are exempt from the per-address limit', () => {
    const limits = limitsWith('10.8.0.0/24');
    expect(limits).toMatchObject({ maxConnections: 1_000, maxConnectionsPerAddress: 100 });
    expect(limits.sharedPeer!('10.8.0.17')).toBe(true);
    expect(limits.sharedPeer!('::ffff:10.8.0.17')).toBe(true);
    expect(limits.sharedPeer!('10.8.1.17')).toBe(false);
  });

  it('when TRUST_PROXY is unset, then no address is exempt', () => {
    expect(limitsWith().sharedPeer!('127.0.0.1')).toBe(false);
  });
});
