// `hearth memory ...`: the user's view of the shared memory: who wrote what, search, forget, pause.
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { HearthClient } from './client.js';
import { MemoryAdd, MemoryExport, MemoryForget, MemoryGet, MemoryList, MemoryPause, MemorySearch, type Result } from './protocol.js';
import { CommandError } from './commands.js';
import { MEMORY_KINDS } from '../core/memory/types.js';

type Out = (s: string) => void;
type WithClient = <T>(fn: (c: HearthClient) => Promise<T>, autostart?: boolean) => Promise<T>;
type Item = { id: string; seq: number; kind: string; text: string; workspace?: string | null; createdAt?: string; client?: { name?: string; version?: string }; file?: { uri: string } | null };

function line(i: Item): string {
  const text = i.text.replace(/\s+/g, ' ');
  return `${i.id}  ${i.kind.padEnd(10)} ${(i.client?.name ?? '?').padEnd(12)} ${i.createdAt ?? ''}  ${text.length > 70 ? text.slice(0, 67) + '...' : text}`;
}

export async function memoryCommand(args: string[], out: Out, withClient: WithClient): Promise<number> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      json: { type: 'boolean' }, all: { type: 'boolean' }, client: { type: 'string' }, limit: { type: 'string' },
      kind: { type: 'string' }, workspace: { type: 'string' }, mode: { type: 'string' },
    },
  });
  const limit = values.limit ? Number(values.limit) : undefined;
  const scope = values.all ? { allWorkspaces: true } : values.workspace ? { workspace: path.resolve(values.workspace) } : { workspace: path.resolve(process.cwd()) };
  const print = (items: Item[]): void => {
    if (values.json) out(JSON.stringify(items, null, 2));
    else if (!items.length) out('no memory items');
    else for (const i of items) out(line(i));
  };
  switch (sub) {
    case 'add': {
      const text = positionals.join(' ');
      if (!text) throw new CommandError(`hearth memory add TEXT [--kind ${MEMORY_KINDS.join('|')}] [--workspace DIR]`);
      const r = await withClient((c) => c.connection.sendRequest(MemoryAdd.method, { text, ...(values.kind ? { kind: values.kind } : {}), workspace: scope.workspace ?? null }) as Promise<Result<typeof MemoryAdd>>, true);
      out(`remembered ${r.id}`);
      return 0;
    }
    case 'list': {
      const r = await withClient((c) => c.connection.sendRequest(MemoryList.method, { ...scope, ...(values.client ? { client: values.client } : {}), ...(limit ? { limit } : {}) }) as Promise<Result<typeof MemoryList>>);
      print(r.items as Item[]);
      if (!values.json && r.paused.length) out(`paused: ${(r.paused as Array<{ name: string }>).map((p) => p.name).join(', ')}`);
      return 0;
    }
    case 'search': {
      const query = positionals.join(' ');
      if (!query) throw new CommandError('hearth memory search QUERY [--all] [--mode hybrid|full-text|vector]');
      const r = await withClient((c) => c.connection.sendRequest(MemorySearch.method, { query, ...scope, ...(limit ? { limit } : {}), ...(values.mode ? { mode: values.mode } : {}) }) as Promise<Result<typeof MemorySearch>>);
      if (values.json) out(JSON.stringify(r, null, 2));
      else {
        out(`${r.hits.length} hit(s), ${r.mode}${(r as { note?: string }).note ? ` (${(r as { note?: string }).note})` : ''}`);
        for (const h of r.hits) out(`${h.score.toFixed(4)}  ${line(h.item as Item)}`);
      }
      return 0;
    }
    case 'show': {
      const id = positionals[0];
      if (!id) throw new CommandError('hearth memory show ID');
      const r = await withClient((c) => c.connection.sendRequest(MemoryGet.method, { id }) as Promise<Result<typeof MemoryGet>>);
      out(JSON.stringify(r, null, 2));
      return 0;
    }
    case 'forget': {
      const id = positionals[0];
      if (!id) throw new CommandError('hearth memory forget ID');
      await withClient((c) => c.connection.sendRequest(MemoryForget.method, { id }));
      out(`forgot ${id}: removed from the store, the full-text index and the vectors`);
      return 0;
    }
    case 'pause':
    case 'resume': {
      const client = positionals[0];
      if (!client) throw new CommandError(`hearth memory ${sub} CLIENT-NAME (as shown by \`hearth memory list\`)`);
      const r = await withClient((c) => c.connection.sendRequest(MemoryPause.method, { client, pause: sub === 'pause' }) as Promise<Result<typeof MemoryPause>>);
      out(r.paused ? `${client}'s memory writes are refused until \`hearth memory resume ${client}\`` : `${client} may write memory again`);
      return 0;
    }
    case 'export': {
      const r = await withClient((c) => c.connection.sendRequest(MemoryExport.method) as Promise<Result<typeof MemoryExport>>);
      const text = JSON.stringify(r, null, 2);
      if (positionals[0]) {
        fs.writeFileSync(path.resolve(positionals[0]), text, { mode: 0o600 });
        out(`exported ${r.items.length} item(s) to ${positionals[0]}`);
      } else out(text);
      return 0;
    }
    default:
      throw new CommandError('hearth memory add|list|search|show|forget|pause|resume|export');
  }
}
