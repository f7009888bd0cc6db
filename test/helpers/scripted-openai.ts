// A scripted OpenAI-compatible (and Anthropic Messages) server on 127.0.0.1 that records every
// request it receives: request line, raw headers and the raw body bytes, plus how many TCP
// connections were opened. Tests use it to prove what did or did not leave the gate.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  url: string;
  /** Header names and values exactly as received, in order. */
  rawHeaders: string[];
  headers: http.IncomingHttpHeaders;
  /** The request body bytes as received. */
  body: Buffer;
  /** For a reply with sseIntervalMs: set when the client closed the connection before the last event was sent. */
  cut?: boolean;
}

export interface ScriptedReply {
  status?: number;
  headers?: Record<string, string>;
  /** A JSON value (sent as JSON), or SSE events (each sent as `data: <event>\n\n`). */
  json?: unknown;
  sse?: string[];
  /** Wait this long before answering (to test timeouts and cancellation). */
  delayMs?: number;
  /** Wait this long between SSE events (a stream that arrives over time, to test streaming and cancelling it). */
  sseIntervalMs?: number;
}

export type Responder = (req: RecordedRequest) => ScriptedReply;

export interface ScriptedServer {
  url: string;
  host: string;
  requests: RecordedRequest[];
  /** TCP connections accepted so far. */
  connections(): number;
  /** Sum of the request body bytes received. */
  bodyBytes(): number;
  /** Every byte received that a secret could hide in: request lines, headers, bodies. */
  everything(): string;
  /** Replies to give, in order, before falling back to the default responder. */
  script(...replies: ScriptedReply[]): void;
  close(): Promise<void>;
}

/** Default answers shaped like the real APIs, derived from the request so tests can check them. */
export const defaultResponder: Responder = (req) => {
  const body = req.body.length ? (JSON.parse(req.body.toString('utf8')) as Record<string, unknown>) : {};
  const stream = body.stream === true;
  const model = String(body.model ?? 'scripted');
  switch (req.url) {
    case '/v1/completions':
      return stream
        ? { sse: [JSON.stringify({ model, choices: [{ text: 'return ' }] }), JSON.stringify({ model, choices: [{ text: 'a + b;' }] }), '[DONE]'] }
        : { json: { model, choices: [{ text: 'return a + b;' }] } };
    case '/v1/chat/completions':
      return stream
        ? { sse: [JSON.stringify({ model, choices: [{ delta: { content: 'Hello' } }] }), JSON.stringify({ model, choices: [{ delta: { content: ' there' } }] }), '[DONE]'] }
        : { json: { model, choices: [{ message: { role: 'assistant', content: 'Hello there' } }] } };
    case '/v1/embeddings': {
      const input = (body.input as string[]) ?? [];
      return { json: { model, data: input.map((s, index) => ({ index, embedding: [s.length, index, 1] })) } };
    }
    case '/v1/messages':
      return stream
        ? {
            sse: [
              JSON.stringify({ type: 'message_start', message: { model } }),
              JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } }),
              JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' from Claude' } }),
              JSON.stringify({ type: 'message_stop' }),
            ],
          }
        : { json: { model, content: [{ type: 'text', text: 'Hi from Claude' }] } };
    default:
      return { status: 404, json: { error: { message: `no route ${req.url}` } } };
  }
};

export async function startScriptedServer(responder: Responder = defaultResponder): Promise<ScriptedServer> {
  const requests: RecordedRequest[] = [];
  const queue: ScriptedReply[] = [];
  let connections = 0;
  const sockets = new Set<import('node:net').Socket>();

  const server = http.createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: RecordedRequest = { method: req.method ?? '', url: req.url ?? '', rawHeaders: [...req.rawHeaders], headers: req.headers, body: Buffer.concat(chunks) };
      requests.push(rec);
      let reply: ScriptedReply;
      try {
        reply = queue.shift() ?? responder(rec);
      } catch (e) {
        reply = { status: 400, json: { error: { message: (e as Error).message } } };
      }
      const send = () => {
        if (res.destroyed) return;
        if (reply.sse) {
          res.writeHead(reply.status ?? 200, { 'content-type': 'text/event-stream', ...reply.headers });
          if (reply.sseIntervalMs) {
            // One event per interval; a client that goes away (cancelled) stops the rest.
            const events = [...reply.sse];
            res.once('close', () => {
              if (events.length) rec.cut = true;
            });
            const next = (): void => {
              if (res.destroyed || res.writableEnded) return;
              const ev = events.shift();
              if (ev === undefined) return void res.end();
              res.write(`data: ${ev}\n\n`);
              setTimeout(next, reply.sseIntervalMs);
            };
            next();
            return;
          }
          for (const ev of reply.sse) res.write(`data: ${ev}\n\n`);
          res.end();
        } else {
          res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...reply.headers });
          res.end(JSON.stringify(reply.json ?? {}));
        }
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  server.on('connection', (s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    connections: () => connections,
    bodyBytes: () => requests.reduce((a, r) => a + r.body.length, 0),
    everything: () => requests.map((r) => `${r.method} ${r.url}\n${r.rawHeaders.join('\n')}\n\n${r.body.toString('utf8')}`).join('\n'),
    script: (...replies) => void queue.push(...replies),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
