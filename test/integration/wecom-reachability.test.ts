import { createServer, type Server } from 'node:net';
import request from 'supertest';
import { createGateway, type Gateway } from '../../src/gateway';
import { WecomSimulator } from '../../src/simulator/simulator';
import { capturedLogs } from '../support/captured-logs';
import { eventually, metricLines, testConfig, UNLIMITED_SIM } from '../support/harness';

/**
 * WeCom out of reach (a firewall, a proxy not set, a wrong WECOM_API_BASE) is
 * learned at start-up, not per message a minute later: an error line, /readyz
 * details and a gauge, each naming what to check.
 */
interface Line {
  level: number;
  msg: string;
  app?: string;
}

/** A port where something answers that is not WeCom (a dev server): plain text. */
async function notWecom(): Promise<{ url: string; server: Server }> {
  const server = createServer((socket) =>
    socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 10\r\nconnection: close\r\n\r\ndev server'),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server };
}

describe('WeCom reachability', () => {
  let gateway: Gateway | undefined;
  afterEach(async () => {
    await gateway?.close();
    gateway = undefined;
  });

  it('when WECOM_API_BASE answers something that is not WeCom, then start-up logs an error naming the app and WECOM_API_BASE, and /readyz stays ready with the detail', async () => {
    const other = await notWecom();
    try {
      const { logger, lines } = capturedLogs<Line>();
      gateway = await createGateway(testConfig(other.url), { logger });
      const error = await eventually(() => lines.find((l) => l.level === 50 && /WeCom/.test(l.msg)));
      expect(error.msg).toMatch(/^cannot reach WeCom for app default: .*not JSON.*WECOM_API_BASE/);
      // gettoken's own failure is a warning with the same honest reason, not an info line saying "fetched".
      const fetchLines = lines.filter((l) => /access_token/.test(l.msg));
      expect(fetchLines.length).toBeGreaterThan(0);
      expect(fetchLines.every((l) => l.level === 40 && /^cannot fetch an access_token for app default: .*not JSON/.test(l.msg))).toBe(true);

      const api = request(gateway.app);
      const ready = await api.get('/readyz');
      expect(ready.status).toBe(200); // accepting still works: messages wait in the queue
      expect(ready.body.wecom.default).toMatch(/^unreachable: .*not JSON/);
      expect(await metricLines(api, 'wecom_gateway_wecom_reachable')).toContain('wecom_gateway_wecom_reachable{app="default"} 0');
    } finally {
      other.server.close();
    }
  }, 30_000);

  it('when nothing listens at WECOM_API_BASE, then the detail says it could not be reached', async () => {
    const other = await notWecom();
    const closedUrl = other.url;
    await new Promise((resolve) => other.server.close(resolve));
    const { logger, lines } = capturedLogs<Line>();
    gateway = await createGateway(testConfig(closedUrl), { logger });
    const error = await eventually(() => lines.find((l) => l.level === 50 && /WeCom/.test(l.msg)));
    expect(error.msg).toMatch(/^cannot reach WeCom for app default: .*ECONNREFUSED/);
    expect((await request(gateway.app).get('/readyz')).body.wecom.default).toMatch(/^unreachable: /);
  }, 30_000);

  it('when WeCom answers, then /readyz says ok, the gauge is 1 and nothing is logged at error', async () => {
    const sim = await WecomSimulator.start(UNLIMITED_SIM);
    try {
      const { logger, lines } = capturedLogs<Line>();
      gateway = await createGateway(testConfig(sim.url), { logger });
      const api = request(gateway.app);
      await eventually(async () => (await api.get('/readyz')).body.wecom?.default === 'ok');
      expect(await metricLines(api, 'wecom_gateway_wecom_reachable')).toContain('wecom_gateway_wecom_reachable{app="default"} 1');
      expect(lines.filter((l) => l.level >= 50)).toEqual([]);
      expect(lines.find((l) => l.msg === 'fetched access_token')?.level).toBe(30);
    } finally {
      await gateway?.close();
      gateway = undefined;
      await sim.stop();
    }
  }, 30_000);

  it('when WeCom comes back, then the next check turns the detail and the gauge back, and says so at info', async () => {
    const sim = await WecomSimulator.start(UNLIMITED_SIM);
    try {
      sim.failNext(1, { errcode: -1, errmsg: 'system busy' }, 'gettoken');
      const { logger, lines } = capturedLogs<Line>();
      const config = testConfig(sim.url);
      gateway = await createGateway({ ...config, wecom: { ...config.wecom, recheckMs: 200 } }, { logger });
      await eventually(() => lines.find((l) => l.level === 50 && /^cannot reach WeCom for app default/.test(l.msg)));
      await eventually(() => lines.find((l) => l.level === 30 && /^WeCom reachable again for app default/.test(l.msg)), 10_000);
      expect((await request(gateway.app).get('/readyz')).body.wecom.default).toBe('ok');
    } finally {
      await gateway?.close();
      gateway = undefined;
      await sim.stop();
    }
  }, 30_000);
});
