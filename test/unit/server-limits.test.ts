import { connect, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createLimitedServer } from '../../src/http/server-limits';

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
    server = createLimitedServer((_req, res) => res.end('ok'), { requestTimeoutMs: 1_000, headersTimeoutMs: 400, keepAliveTimeoutMs: 300, maxConnections: 3 });
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
    const held = await Promise.all(Array.from({ length: 3 }, () => new Promise<Socket>((r) => { const s = connect(port, '127.0.0.1', () => r(s)); s.on('error', () => undefined); })));
    const extra = await holdOpen(port, (s) => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(extra.answer).toBe('');
    held.forEach((s) => s.destroy());
  });
});
