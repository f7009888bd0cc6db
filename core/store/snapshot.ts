import { crc32 } from 'node:zlib';

/**
 * Snapshot file:
 *   magic      8 bytes  "HEARTHS1"
 *   headerLen  u32 LE
 *   headerCrc  u32 LE  CRC-32 of the header bytes
 *   header     UTF-8 JSON SnapshotHeader
 *   database   the SQLite database image from sql.js `export()`; `dbBytes` long, CRC-32 `dbCrc32`
 */
export const SNAPSHOT_FILE = 'snapshot';
export const SNAPSHOT_TMP_FILE = 'snapshot.tmp';
export const SNAPSHOT_MAGIC = Buffer.from('HEARTHS1', 'latin1');
const PREFIX_BYTES = SNAPSHOT_MAGIC.length + 8;
const MAX_HEADER_BYTES = 64 * 1024;

export interface SnapshotHeader {
  format: 1;
  /** Last journal sequence number whose effects the database contains. */
  seq: number;
  schemaVersion: number;
  dbBytes: number;
  dbCrc32: number;
  createdAt: string;
}

export class SnapshotCorrupt extends Error {}

export function encodeSnapshot(db: Uint8Array, seq: number, schemaVersion: number, createdAt: Date): Buffer {
  const header: SnapshotHeader = {
    format: 1,
    seq,
    schemaVersion,
    dbBytes: db.byteLength,
    dbCrc32: crc32(db),
    createdAt: createdAt.toISOString(),
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(PREFIX_BYTES);
  SNAPSHOT_MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(headerBytes.length, 8);
  prefix.writeUInt32LE(crc32(headerBytes), 12);
  return Buffer.concat([prefix, headerBytes, db]);
}

/** Reads only the header; throws SnapshotCorrupt when it is damaged. */
export function decodeSnapshotHeader(buf: Buffer): { header: SnapshotHeader; dbOffset: number } {
  if (buf.length < PREFIX_BYTES) throw new SnapshotCorrupt(`file is ${buf.length} bytes, shorter than a snapshot header`);
  if (!buf.subarray(0, SNAPSHOT_MAGIC.length).equals(SNAPSHOT_MAGIC)) throw new SnapshotCorrupt('not a Hearth snapshot (bad magic)');
  const headerLen = buf.readUInt32LE(8);
  if (headerLen > MAX_HEADER_BYTES || PREFIX_BYTES + headerLen > buf.length) throw new SnapshotCorrupt(`bad header length ${headerLen}`);
  const headerBytes = buf.subarray(PREFIX_BYTES, PREFIX_BYTES + headerLen);
  if (crc32(headerBytes) !== buf.readUInt32LE(12)) throw new SnapshotCorrupt('header CRC mismatch');
  let h: Partial<SnapshotHeader>;
  try {
    h = JSON.parse(headerBytes.toString('utf8')) as Partial<SnapshotHeader>;
  } catch {
    throw new SnapshotCorrupt('header is not valid JSON');
  }
  if (
    h.format !== 1 ||
    !Number.isSafeInteger(h.seq) ||
    (h.seq as number) < 0 ||
    !Number.isSafeInteger(h.schemaVersion) ||
    !Number.isSafeInteger(h.dbBytes) ||
    !Number.isInteger(h.dbCrc32) ||
    typeof h.createdAt !== 'string'
  ) {
    throw new SnapshotCorrupt(`unsupported or malformed header ${headerBytes.toString('utf8').slice(0, 200)}`);
  }
  return { header: h as SnapshotHeader, dbOffset: PREFIX_BYTES + headerLen };
}

/** Validates the whole file (header, length, database CRC) and returns the database image. */
export function decodeSnapshot(buf: Buffer): { header: SnapshotHeader; db: Uint8Array } {
  const { header, dbOffset } = decodeSnapshotHeader(buf);
  const db = buf.subarray(dbOffset);
  if (db.length !== header.dbBytes) throw new SnapshotCorrupt(`database image is ${db.length} bytes, header says ${header.dbBytes}`);
  if (crc32(db) !== header.dbCrc32) throw new SnapshotCorrupt('database CRC mismatch');
  return { header, db: new Uint8Array(db.buffer, db.byteOffset, db.byteLength) };
}
