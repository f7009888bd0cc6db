import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Message } from 'vscode-jsonrpc';
import { DEFAULT_LIMITS, ErrorCodes, GuardedMessageReader, type EnvelopeError } from '../../server/wire.js';
import { clientError } from '../../server/router.js';
import { Status } from '../../server/protocol.js';

// The daemon's message reader on a real Unix socket pair: what it delivers, answers and refuses.
type Got = { id?: unknown; params?: unknown };
interface Pair { client: net.Socket; got: Got[]; rejected: EnvelopeError[]; fatal: string[]; close(): void }

async function pair(): Promise<Pair> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-wire-'));
  const file = path.join(dir, 's.sock');
  const got: Got[] = [];
  const rejected: EnvelopeError[] = [];
  const fatal: string[] = [];
  let serverSide: net.Socket | undefined;
  const server = net.createServer((s) => {
    serverSide = s;
    new GuardedMessageReader(s, DEFAULT_LIMITS, { reject: (e) => rejected.push(e), fatal: (r) => fatal.push(r) }).listen((m: Message) => got.push(m as Got));
  });
  await new Promise<void>((r) => server.listen(file, r));
  const client = net.createConnection(file);
  await new Promise<void>((r) => client.once('connect', r));
  return {
    client, got, rejected, fatal,
    close: () => { client.destroy(); serverSide?.destroy(); server.close(); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}

const framed = (body: string | Buffer, header = (n: number) => `Content-Length: ${n}\r\n\r\n`): Buffer => {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([Buffer.from(header(b.length)), b]);
};

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(ok(), `timed out waiting for ${what}`);
}

const req = (id: number, extra = ''): string => `{"jsonrpc":"2.0","id":${id},"method":${JSON.stringify(Status.method)}${extra}}`;

describe('wire: GuardedMessageReader', () => {
  it('reads Content-Length-only headers, several messages per chunk and messages split byte by byte', async () => {
    const p = await pair();
    try {
      p.client.write(Buffer.concat([framed(req(1)), framed(req(2, ',"params":{"é":"ü"}'))]));
      await until('two messages', () => p.got.length === 2);
      const third = framed(req(3));
      for (const byte of third) { p.client.write(Buffer.from([byte])); await new Promise((r) => setImmediate(r)); }
      await until('the split message', () => p.got.length === 3);
      assert.deepEqual(p.got.map((m) => m.id), [1, 2, 3]);
      assert.deepEqual(p.got[1]?.params, { é: 'ü' });
      assert.deepEqual([p.rejected, p.fatal], [[], []]);
    } finally {
      p.close();
    }
  });

  it('reads other header forms (lower case, Content-Type with charset=utf-8) the fast path leaves to the full parser', async () => {
    const p = await pair();
    try {
      p.client.write(framed(req(1), (n) => `content-length: ${n}\r\n\r\n`));
      p.client.write(framed(req(2), (n) => `Content-Length: ${n}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n`));
      p.client.write(framed(req(3), (n) => `Content-Length:   ${n}  \r\n\r\n`));
      await until('three messages', () => p.got.length === 3);
      assert.deepEqual([p.rejected, p.fatal], [[], []]);
    } finally {
      p.close();
    }
  });

  it('answers invalid UTF-8 with ParseError and then reads the next message normally', async () => {
    const p = await pair();
    try {
      // Valid JSON but for a byte that is not UTF-8 (a lenient decoder would let it through as U+FFFD),
      // then a truncated two-byte sequence (a decoder keeping state across messages would misread what follows).
      const badByte = Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":5,"method":"x'), Buffer.from([0xff]), Buffer.from('"}')]);
      p.client.write(Buffer.concat([framed(badByte), framed(Buffer.from([0x7b, 0xc3])), framed(req(7))]));
      await until('the valid message', () => p.got.length === 1);
      assert.equal(p.rejected.length, 2);
      for (const r of p.rejected) {
        assert.equal(r.code, ErrorCodes.ParseError);
        assert.match(r.message, /^invalid JSON: /);
      }
      assert.equal(p.got[0]?.id, 7);
    } finally {
      p.close();
    }
  });

  for (const value of ['12345678901234', '+5', ' 5 5', '']) {
    it(`refuses Content-Length ${JSON.stringify(value)} and closes`, async () => {
      const p = await pair();
      try {
        p.client.write(`Content-Length: ${value}\r\n\r\n{}`);
        await until('the fatal error', () => p.fatal.length === 1);
        assert.equal(p.fatal[0], 'Content-Length is not a number');
        assert.equal(p.got.length, 0);
      } finally {
        p.close();
      }
    });
  }
});

describe('router: clientError', () => {
  it('carries code, message and data but no daemon stack frames, and leaves Error.stackTraceLimit as it was', () => {
    const before = Error.stackTraceLimit;
    const e = clientError(ErrorCodes.MethodNotFound, 'unknown method x/y', { hint: 1 });
    assert.deepEqual(e.toJson(), { code: ErrorCodes.MethodNotFound, message: 'unknown method x/y', data: { hint: 1 } });
    assert.doesNotMatch(e.stack ?? '', /\n\s+at /);
    assert.equal(Error.stackTraceLimit, before);
    assert.match(new Error('still traced').stack ?? '', /\n\s+at /);
  });
});
