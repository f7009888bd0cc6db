// Generic LSP clients (JetBrains via LSP4IJ, Helix, Emacs): the LSP4IJ template's exact command
// line, run through `sh` with `hearth` on PATH, is a working language server with inline completion.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { HEARTH_BIN, ROOT, SEED_CODE, existsSync, makeWorld, skipBecause, waitFor, type HearthWorld } from './helpers.js';

const TEMPLATE_DIR = path.join(ROOT, 'extensions', 'jetbrains', 'lsp4ij-template');

interface Template {
  id: string;
  name: string;
  programArgs: { default: string; windows?: string };
  fileTypeMappings: Array<{ fileType: { name: string; patterns?: string[] }; languageId: string }>;
}

/** Splits `sh -c "hearth lsp --stdio"` the way LSP4IJ's command line parser does for this shape. */
function argv(commandLine: string): string[] {
  const out: string[] = [];
  for (const m of commandLine.matchAll(/"([^"]*)"|(\S+)/g)) out.push(m[1] ?? m[2]!);
  return out;
}

describe('e2e: the LSP4IJ template launches a working Hearth language server', function () {
  this.timeout(60_000);
  let world: HearthWorld;
  let proc: ChildProcess | undefined;
  let conn: MessageConnection | undefined;
  const template = JSON.parse(readFileSync(path.join(TEMPLATE_DIR, 'template.json'), 'utf8')) as Template;
  const initOptions = JSON.parse(readFileSync(path.join(TEMPLATE_DIR, 'initializationOptions.json'), 'utf8')) as unknown;

  before(function () {
    if (!existsSync(HEARTH_BIN)) skipBecause(this, `${HEARTH_BIN} is missing`);
    world = makeWorld('lsp4ij');
  });

  after(async () => {
    conn?.dispose();
    if (proc && proc.exitCode === null) proc.kill();
    await world?.dispose();
  });

  it('is a well-formed template: id, name, a stdio command, file type mappings with patterns', () => {
    assert.equal(template.id, 'hearth');
    assert.deepEqual(argv(template.programArgs.default), ['sh', '-c', 'hearth lsp --stdio']);
    assert.ok(template.fileTypeMappings.length >= 5);
    for (const m of template.fileTypeMappings) {
      assert.ok(m.fileType.name && m.languageId, JSON.stringify(m));
      assert.ok((m.fileType.patterns ?? []).every((p) => /^\*\.[a-z]+$/.test(p)), JSON.stringify(m));
    }
  });

  it('its command starts the bridge, which offers inlineCompletion and completes from an open document', async () => {
    const bin = path.join(world.dir, 'path');
    mkdirSync(bin);
    symlinkSync(HEARTH_BIN, path.join(bin, 'hearth'));
    const [cmd, ...args] = argv(template.programArgs.default);
    proc = spawn(cmd!, args, { env: { ...world.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    conn = createMessageConnection(new StreamMessageReader(proc.stdout!), new StreamMessageWriter(proc.stdin!));
    conn.listen();
    const init = await conn.sendRequest('initialize', {
      processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: initOptions,
      clientInfo: { name: 'LSP4IJ template test', version: '1' },
    }) as { capabilities: { inlineCompletionProvider?: unknown } };
    assert.ok(init.capabilities.inlineCompletionProvider, `no inlineCompletionProvider; stderr: ${stderr}`);
    await conn.sendNotification('initialized', {});
    const uri = pathToFileURL(path.join(world.dir, 'Invoice.ts')).href;
    const text = `${SEED_CODE}\n  const subtotal = items.red`;
    await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'typescript', version: 1, text } });
    const lines = text.split('\n');
    const position = { line: lines.length - 1, character: lines[lines.length - 1]!.length };
    const result = await waitFor('a non-empty inline completion', async () => {
      const r = await conn!.sendRequest('textDocument/inlineCompletion', { textDocument: { uri }, position, context: { triggerKind: 1 } }) as { items: Array<{ insertText: string }> };
      return r.items.length > 0 ? r : undefined;
    }, 20_000, 200);
    assert.ok(SEED_CODE.includes(`items.red${result.items[0]!.insertText}`), JSON.stringify(result.items[0]));
    await conn.sendRequest('shutdown');
    await conn.sendNotification('exit');
    await waitFor('the bridge to exit after exit', () => proc!.exitCode !== null || undefined, 10_000);
  });
});
