// The http.fetch tool goes through the egress gate like every other connection off the machine
// (real daemon, real CLI, a recording server on 127.0.0.1): its body is redacted, every attempt is
// in the egress ledger with the bytes the server received, and a routing-policy deny stops it
// before the server is contacted, even where the tools rules allow the host.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cliJson, makeHome, makeWorkspace, userPolicyFile, writeFileAtomic, type HearthHome } from '../helpers/routing-harness.js';

const AWS_KEY = 'AKIA' + 'Q3EGRT7VXPJ2NMZK';

interface LedgerRow { feature: string; provider: string; host: string; outcome: string; decision: string; rule: string; bytes: number; sha256: string; client: string | null; status: number | null }

describe('http.fetch through the egress gate (real daemon and CLI)', function () {
  this.timeout(60_000);
  let h: HearthHome;
  let ws: string;
  let server: Server;
  let host: string;
  const received: Array<{ method: string; url: string; body: Buffer }> = [];

  before(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks) });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('pong');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    h = makeHome('http-egress');
    ws = fs.realpathSync(makeWorkspace(h, 'ws'));
    await h.spawnDaemon();
  });
  after(async () => {
    await h?.dispose();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  const policy = async (routingRules: string): Promise<void> => {
    writeFileAtomic(userPolicyFile(h), `version: 1\n${routingRules}tools:\n  rules:\n    - { tool: http.fetch, hosts: ["${host}"], action: allow }\n`);
    const check = await h.cli(['policy', 'check']);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    await new Promise((r) => setTimeout(r, 600)); // hot reload
  };
  const fetchTool = (body: string) => h.cli(['tool', 'run', 'http.fetch', JSON.stringify({ url: `http://${host}/ping`, method: 'POST', body }), '--workspace', ws]);
  const toolRows = async (): Promise<LedgerRow[]> => (await cliJson<LedgerRow[]>(h, ['egress', 'log', '--json'])).filter((e) => e.feature === 'tool').reverse();

  it('the body is redacted, and the ledger entry matches exactly what the server received', async () => {
    await policy('');
    const r = await fetchTool(JSON.stringify({ accessKeyId: AWS_KEY, note: 'hello' }));
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /"body": "pong"/);
    assert.equal(received.length, 1);
    const got = received[0]!.body.toString('utf8');
    assert.ok(!got.includes(AWS_KEY), `the key reached the server: ${got}`);
    assert.match(got, /\[REDACTED:[^\]]+\]/);
    assert.match(got, /"note":"hello"/);
    const [row] = await toolRows();
    assert.equal(row!.outcome, 'sent');
    assert.equal(row!.provider, `http:${host}`);
    assert.equal(row!.host, host);
    assert.equal(row!.bytes, received[0]!.body.length);
    assert.equal(row!.sha256, createHash('sha256').update(received[0]!.body).digest('hex'));
    assert.match(row!.client ?? '', /^hearth-cli#/);
  });

  it('a routing-policy deny for that host stops the call even though the tools rule allows it; nothing is sent', async () => {
    await policy(`rules:\n  - provider: [http:${host}]\n    action: deny\n`);
    const before = received.length;
    const r = await fetchTool('x=1');
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /egress refused: policy denies sending tool data to http:127\.0\.0\.1:\d+ \(.*policy\.yaml:3:\d+/);
    assert.equal(received.length, before, 'the server was not contacted');
    const rows = await toolRows();
    assert.equal(rows.at(-1)!.outcome, 'denied');
    assert.equal(rows.at(-1)!.bytes, 0);
  });
});
