import { get, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { createLimitedServer } from '../../src/http/server-limits';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { metricLines, SIM_APP, startHarness, type Harness } from '../support/harness';

const TOKEN = 'gatewayToken123';
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const wecom = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });
const ATTACKER = '127.0.0.2'; // Linux routes all of 127/8 to lo: another source address on this machine
const PROBER = '127.0.0.1';

/** A URL verification as WeCom's admin console sends it (GET, echostr signed and encrypted). */
function verificationPath(echo: string): string {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const echostr = wecom.encrypt(echo);
  return (
    `/wecom/callback?msg_signature=${wecom.signature(timestamp, '7', echostr)}` +
    `&timestamp=${timestamp}&nonce=7&echostr=${encodeURIComponent(echostr)}`
  );
}

/** A slowloris socket: half a request, then nothing. Resolves once connected. */
function slowSocket(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: PROBER, localAddress: ATTACKER }, () => {
      socket.write('GET /healthz HTTP/1.1\r\nHost: gateway\r\n');
      resolve(socket);
    });
    socket.on('error', () => undefined);
  });
}

/** A fresh GET from the prober's address, as a kubelet probe: its status, or the error that ended it, and how long it took. */
function probe(port: number, path: string): Promise<{ status: number | string; body: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const req = get({ host: PROBER, port, path, localAddress: PROBER, agent: false, timeout: 3_000 }, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: Date.now() - started }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error: NodeJS.ErrnoException) => resolve({ status: error.code ?? error.message, body: '', ms: Date.now() - started }));
  });
}

describe('connections from one address (a client holding slow sockets)', () => {
  let h: Harness;
  let server: Server;
  let port: number;
  const held: Socket[] = [];

  beforeAll(async () => {
    // The shipped defaults: MAX_CONNECTIONS 1,000, a quarter of it per address.
    h = await startHarness({ env: { WECOM_CALLBACK_TOKEN: TOKEN, WECOM_CALLBACK_AES_KEY: AES_KEY } });
    server = createLimitedServer(h.gateway.app, h.gateway.serverLimits);
    await new Promise<void>((resolve) => server.listen(0, PROBER, resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    held.forEach((s) => s.destroy());
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await h.close();
  });

  it('when an honest client bursts 100 concurrent requests at a time (Node fetch opens up to twice as many sockets), then none is refused', async () => {
    const statuses: number[] = [];
    for (let batch = 0; batch < 5; batch++) {
      statuses.push(
        ...(await Promise.all(
          Array.from({ length: 100 }, () =>
            fetch(`http://${PROBER}:${port}/healthz`).then(
              (r) => r.status,
              () => 0,
            ),
          ),
        )),
      );
    }
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(await metricLines(h.api, 'wecom_gateway_connections_refused_total ')).toBe('wecom_gateway_connections_refused_total 0');
  });

  it('when one address opens MAX_CONNECTIONS slow sockets, then 14 fresh /healthz probes and a callback verification from another address all succeed promptly', async () => {
    const { maxConnections, maxConnectionsPerAddress } = h.config;
    expect(maxConnectionsPerAddress).toBeLessThan(maxConnections);
    held.push(...(await Promise.all(Array.from({ length: maxConnections }, () => slowSocket(port)))));
    await new Promise((r) => setTimeout(r, 300)); // the server has accepted (or refused) them all

    const results: { status: number | string; ms: number }[] = [];
    for (let i = 0; i < 14; i++) results.push(await probe(port, '/healthz'));
    const callback = await probe(port, verificationPath('5217307046'));
    const failed = results.filter((r) => r.status !== 200);
    console.log(
      `probes failed: ${failed.length} of 14 (${failed.map((r) => r.status).join(', ')}); ` +
        `slowest ${Math.max(...results.map((r) => r.ms))} ms; callback verification ${callback.status} in ${callback.ms} ms`,
    );

    expect(failed).toEqual([]);
    for (const r of results) expect(r.ms).toBeLessThan(2_000);
    expect(callback).toMatchObject({ status: 200, body: '5217307046' });
    expect(callback.ms).toBeLessThan(2_000);
    // Once half the sockets are open, the one address keeps no more than its share beyond it; the others were refused at once.
    const stillOpen = held.filter((s) => !s.destroyed && s.readyState === 'open').length;
    expect(stillOpen).toBeGreaterThanOrEqual(maxConnectionsPerAddress);
    expect(stillOpen).toBeLessThanOrEqual(maxConnections / 2);
    // Not silent: the refusals are counted for the operator.
    const refused = Number(
      /^wecom_gateway_connections_refused_total (\d+)/m.exec(await metricLines(h.api, 'wecom_gateway_connections_refused_total'))?.[1],
    );
    expect(refused).toBeGreaterThanOrEqual(maxConnections - stillOpen - 20);
  });
});
