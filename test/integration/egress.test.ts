import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alert, eventually, finalStatus, startHarness, TEMPLATES_DIR, type Harness } from '../support/harness';

/** A loopback HTTP server that notes every request reaching it. */
async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => void res.end('id,value\n1,42\n')) {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
type Served = Awaited<ReturnType<typeof serve>>;

/** A port nothing listens on (a server's, closed). */
async function closedPort(): Promise<number> {
  const server = await serve();
  await server.close();
  return server.port;
}

const fileMessage = (fileUrl: string) => ({
  event: 'report.ready',
  msgtype: 'file',
  to: { users: ['zhangsan'] },
  data: { fileUrl, filename: 'q3.csv' },
});

async function sendFile(h: Harness, fileUrl: string): Promise<Record<string, any>> {
  const res = await h.api.post('/v1/messages').send(fileMessage(fileUrl));
  expect(res.status).toBe(202);
  return finalStatus(h.api, res.body.id, 15_000);
}

const uploads = (h: Harness) => h.sim.calls.filter((c) => c.api === 'media/upload' && c.errcode === 0).length;

async function deadLetter(h: Harness, messageId: string): Promise<{ attempts: number; error: string }> {
  return eventually(async () => {
    const res = await h.api.get('/v1/status-callbacks/dead-letters');
    return (res.body.deadLetters as { id: string; attempts: number; error: string }[]).find((d) => d.id === `${messageId}_final`);
  }, 15_000);
}

describe('egress policy, by default (nothing allowed)', () => {
  let h: Harness;
  let files: Served;
  let receiver: Served;
  let templatesDir: string;
  beforeAll(async () => {
    files = await serve();
    receiver = await serve((_req, res) => void res.writeHead(204).end());
    // The operator's own callbackUrl (in an event definition) is trusted as configured, loopback or not.
    templatesDir = mkdtempSync(join(tmpdir(), 'wgw-egress-'));
    cpSync(TEMPLATES_DIR, templatesDir, { recursive: true });
    writeFileSync(
      join(templatesDir, 'batch.done.yaml'),
      `event: batch.done\ncallbackUrl: ${receiver.url}/configured\ndata:\n  job: {}\nmsgtypes:\n  text:\n    content: "{{job}} done"\n`,
    );
    h = await startHarness({ env: { TEMPLATES_DIR: templatesDir } });
  });
  afterAll(async () => {
    await h.close();
    await Promise.all([files.close(), receiver.close()]);
    rmSync(templatesDir, { recursive: true, force: true });
  });
  beforeEach(() => {
    files.requests.length = 0;
    receiver.requests.length = 0;
  });

  /** A URL the policy refuses outright is the caller's mistake: 400 at POST naming the field, nothing queued, nothing fetched. */
  async function refusedAtPost(body: object, field: string) {
    const res = await h.api.post('/v1/messages').send(body);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'egress_refused', fields: [{ field }] });
    expect(res.body.error.message).toContain('refused by the egress policy');
  }

  it.each([
    ['a loopback server', () => `${files.url}/report.csv`],
    ['localhost', () => `http://localhost:${files.port}/report.csv`],
    ['IPv4-mapped IPv6 loopback', () => `http://[::ffff:127.0.0.1]:${files.port}/report.csv`],
    ['loopback in decimal', () => `http://2130706433:${files.port}/report.csv`],
    ['the cloud metadata address', () => 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
  ])('when a file message points at %s, then POST answers 400 naming data and nothing is fetched or uploaded', async (_what, url) => {
    await refusedAtPost(fileMessage(url()), 'data');
    expect(files.requests).toEqual([]);
    expect(uploads(h)).toBe(0);
  });

  it("when a request's callbackUrl is refused, then POST answers 400 naming callbackUrl and the receiver gets nothing", async () => {
    await refusedAtPost(alert({ callbackUrl: `${receiver.url}/status` }), 'callbackUrl');
    await refusedAtPost(alert({ callbackUrl: 'http://100.100.100.200/latest/meta-data/' }), 'callbackUrl');
    expect(receiver.requests).toEqual([]);
  });

  it('when a preview names a refused URL, then it is refused the same way', async () => {
    const res = await h.api.post('/v1/messages/preview').send(fileMessage(`${files.url}/report.csv`));
    expect(res.status).toBe(400);
    expect(res.body.error.fields[0].field).toBe('data');
  });

  it("when the event definition's own callbackUrl is on loopback, then it is the operator's and delivered", async () => {
    const res = await h.api.post('/v1/messages').send({ event: 'batch.done', to: { users: ['zhangsan'] }, data: { job: 'nightly' } });
    expect(res.status).toBe(202);
    await eventually(() => receiver.requests.includes('POST /configured') || undefined, 15_000);
  });
});

describe('egress policy, with EGRESS_ALLOW=127.0.0.1', () => {
  // Long enough for a 64 MB body to reach its 20 MB cut on a loaded machine (400 ms once timed out first).
  const TIMEOUT_MS = 1_500;
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { EGRESS_ALLOW: '127.0.0.1', EGRESS_TIMEOUT_MS: String(TIMEOUT_MS), SEND_ATTEMPTS: '2' } });
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  it('when a file message points at an allowed loopback server, then it is downloaded, uploaded and sent', async () => {
    const files = await serve();
    try {
      const view = await sendFile(h, `${files.url}/report.csv`);
      expect(view.status).toBe('sent');
      expect(files.requests).toEqual(['GET /report.csv']);
      expect(uploads(h)).toBe(1);
    } finally {
      await files.close();
    }
  });

  it('when the server never answers, then the download is tried SEND_ATTEMPTS times (the media worker retries it; the send waits, one attempt) and fails with "timeout" within EGRESS_TIMEOUT_MS per try', async () => {
    const silent = await serve(() => undefined);
    try {
      const started = Date.now();
      const view = await sendFile(h, `${silent.url}/report.csv`);
      const elapsed = Date.now() - started;
      expect(view).toMatchObject({ status: 'failed', attempts: 1, error: { errmsg: 'download failed: timeout' } });
      expect(silent.requests).toHaveLength(2);
      expect(elapsed).toBeGreaterThanOrEqual(2 * TIMEOUT_MS);
      expect(elapsed).toBeLessThan(2 * TIMEOUT_MS + 5_000);
    } finally {
      await silent.close();
    }
  });

  it('when the server trickles its body, then the timeout is for the whole download, not per chunk', async () => {
    const trickle = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/csv' });
      const tick = setInterval(() => res.write('x'), TIMEOUT_MS / 8);
      res.on('close', () => clearInterval(tick));
    });
    try {
      const view = await sendFile(h, `${trickle.url}/slow.csv`);
      expect(view).toMatchObject({ status: 'failed', error: { errmsg: 'download failed: timeout' } });
    } finally {
      await trickle.close();
    }
  });

  it('when the server redirects, then the redirect is not followed and its target receives nothing', async () => {
    const target = await serve();
    const redirecting = await serve((_req, res) => void res.writeHead(302, { location: `${target.url}/internal` }).end());
    try {
      const view = await sendFile(h, `${redirecting.url}/report.csv`);
      expect(view).toMatchObject({ status: 'failed', attempts: 1, error: { errmsg: 'redirects are not followed' } });
      expect(target.requests).toEqual([]);
    } finally {
      await Promise.all([target.close(), redirecting.close()]);
    }
  });

  it('when the file is larger than 20 MB, then the download is cut short and fails saying so', async () => {
    const TOTAL = 64 * 1_048_576;
    let written = 0;
    const huge = await serve((_req, res) => {
      const chunk = Buffer.alloc(1_048_576, 1);
      const more = () => {
        while (written < TOTAL) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', more);
        }
        res.end();
      };
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      more();
    });
    try {
      const view = await sendFile(h, `${huge.url}/huge.bin`);
      expect(view).toMatchObject({ status: 'failed', attempts: 1, error: { errmsg: 'download failed: larger than 20 MB' } });
      expect(written).toBeLessThan(TOTAL);
      expect(uploads(h)).toBe(0);
    } finally {
      await huge.close();
    }
  });

  it('when the server answers 404, then the download fails at once with the HTTP status only', async () => {
    const missing = await serve((_req, res) => void res.writeHead(404).end('no such report at /srv/internal/path'));
    try {
      const view = await sendFile(h, `${missing.url}/nope.csv`);
      expect(view).toMatchObject({ status: 'failed', attempts: 1, error: { errmsg: 'download failed: HTTP 404' } });
    } finally {
      await missing.close();
    }
  });

  it('when nothing listens on the port, then the status says "unreachable", never the socket error or the address (no port scanning)', async () => {
    const port = await closedPort();
    const view = await sendFile(h, `http://127.0.0.1:${port}/report.csv`);
    expect(view).toMatchObject({ status: 'failed', error: { errmsg: 'download failed: unreachable' } });
    const text = JSON.stringify(view);
    expect(text).not.toMatch(/ECONNREFUSED|connect /);
    expect(text).not.toContain('127.0.0.1');
    expect(text).not.toContain(String(port));
  });

  it("when a request's callbackUrl is unreachable, then its dead letter says so without the socket error", async () => {
    const port = await closedPort();
    const res = await h.api.post('/v1/messages').send(alert({ callbackUrl: `http://127.0.0.1:${port}/status` }));
    expect((await finalStatus(h.api, res.body.id)).status).toBe('sent');
    const letter = await deadLetter(h, res.body.id);
    expect(letter.error).toBe('status-callbacks: unreachable');
    expect(letter.error).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
  });
});
