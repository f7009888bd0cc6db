import { crc32 } from 'node:zlib';
import type { JsonSqlValue } from './values.js';

/**
 * Journal file: a sequence of frames, each
 *   magic   u32 LE  0x314A5248 (bytes "HRJ1")
 *   length  u32 LE  payload byte count
 *   crc32   u32 LE  CRC-32 over the 4 length bytes followed by the payload
 *   payload UTF-8 JSON: { "seq": n, "schema": v, "tx": [{ "sql": "...", "params": [...] }] }
 * A record is valid only if its frame is complete, its CRC matches, its JSON has that shape, and
 * its seq is exactly one more than the previous record's.
 */
export const JOURNAL_FILE = 'journal';
export const JOURNAL_MAGIC = 0x314a5248;
export const FRAME_HEADER_BYTES = 12;
/** Larger lengths are treated as corruption rather than trusted. */
export const MAX_RECORD_BYTES = 512 * 1024 * 1024;

export interface EncodedStatement {
  sql: string;
  params: JsonSqlValue[];
}
export interface JournalRecord {
  seq: number;
  schema: number;
  tx: EncodedStatement[];
}

function frameCrc(lengthBytes: Buffer, payload: Buffer): number {
  return crc32(payload, crc32(lengthBytes));
}

export function encodeFrame(record: JournalRecord): Buffer {
  const payload = Buffer.from(JSON.stringify(record), 'utf8');
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32LE(JOURNAL_MAGIC, 0);
  frame.writeUInt32LE(payload.length, 4);
  frame.writeUInt32LE(frameCrc(frame.subarray(4, 8), payload), 8);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

export interface ScannedRecord {
  record: JournalRecord;
  offset: number;
  end: number;
}
export interface JournalScan {
  records: ScannedRecord[];
  /** Bytes from the start of the file that hold valid records. */
  validBytes: number;
  /** Set when bytes after `validBytes` are not a valid record. */
  invalid?: { offset: number; reason: string };
}

function isRecord(v: unknown): v is JournalRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Partial<JournalRecord>;
  return (
    Number.isSafeInteger(r.seq) &&
    (r.seq as number) > 0 &&
    Number.isSafeInteger(r.schema) &&
    (r.schema as number) >= 0 &&
    Array.isArray(r.tx) &&
    r.tx.length > 0 &&
    r.tx.every((s) => typeof s === 'object' && s !== null && typeof s.sql === 'string' && Array.isArray(s.params))
  );
}

/**
 * Reads frames from the start and stops at the first one that is not valid.
 * `snapshotSeq` is the last sequence the snapshot holds: the first record must not leave a gap
 * after it (records at or below it are older ones a crash left behind before the journal restart).
 */
export function scanJournal(buf: Buffer, snapshotSeq: number): JournalScan {
  const records: ScannedRecord[] = [];
  let offset = 0;
  const stop = (reason: string): JournalScan => ({ records, validBytes: offset, invalid: { offset, reason } });
  while (offset < buf.length) {
    const remaining = buf.length - offset;
    if (remaining < FRAME_HEADER_BYTES) return stop(`incomplete frame header (${remaining} of ${FRAME_HEADER_BYTES} bytes)`);
    if (buf.readUInt32LE(offset) !== JOURNAL_MAGIC) return stop('bad frame magic');
    const length = buf.readUInt32LE(offset + 4);
    if (length > MAX_RECORD_BYTES) return stop(`implausible record length ${length}`);
    if (remaining < FRAME_HEADER_BYTES + length) {
      return stop(`incomplete record (${remaining - FRAME_HEADER_BYTES} of ${length} payload bytes)`);
    }
    const payload = buf.subarray(offset + FRAME_HEADER_BYTES, offset + FRAME_HEADER_BYTES + length);
    if (frameCrc(buf.subarray(offset + 4, offset + 8), payload) !== buf.readUInt32LE(offset + 8)) return stop('CRC mismatch');
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload.toString('utf8'));
    } catch {
      return stop('payload is not valid JSON');
    }
    if (!isRecord(parsed)) return stop('payload is not a journal record');
    const prev = records.at(-1);
    if (prev && parsed.seq !== prev.record.seq + 1) {
      return stop(`sequence ${parsed.seq} does not follow ${prev.record.seq}`);
    }
    if (!prev && parsed.seq > snapshotSeq + 1) {
      return stop(`sequence gap: the snapshot ends at ${snapshotSeq} but the journal starts at ${parsed.seq}`);
    }
    const end = offset + FRAME_HEADER_BYTES + length;
    records.push({ record: parsed, offset, end });
    offset = end;
  }
  return { records, validBytes: offset };
}
