import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Database } from 'sql.js';
import { messageOf } from './errors.js';
import { DIR_MODE, FILE_MODE, readIfExists } from './fsutil.js';
import { JOURNAL_FILE, scanJournal } from './journal.js';
import { LOCK_FILE, lockHolderAlive, readLockPid } from './lock.js';
import { MIGRATIONS, readSchemaVersion, type Migration } from './migrations.js';
import { SNAPSHOT_FILE, SNAPSHOT_TMP_FILE, decodeSnapshot } from './snapshot.js';
import { configureConnection, loadSqlJs, runStatement, withWritable } from './sqljs.js';
import { fromJsonValue, type SqlValue } from './values.js';

export interface Finding {
  level: 'ok' | 'warning' | 'error';
  message: string;
  /** What to do about it; empty for 'ok'. */
  fix: string;
}

const ok = (message: string): Finding => ({ level: 'ok', message, fix: '' });
const warning = (message: string, fix: string): Finding => ({ level: 'warning', message, fix });
const error = (message: string, fix: string): Finding => ({ level: 'error', message, fix });

const ASIDE = /^(snapshot|journal)\.(corrupt|orphaned|before-import|recovered)-/;

/**
 * Read-only integrity check of a store directory for `hearth doctor`. Works on copies in memory,
 * never writes, never takes the lock, so it is safe while the daemon runs.
 */
export async function checkStore(dir: string, migrations: readonly Migration[] = MIGRATIONS): Promise<Finding[]> {
  const findings: Finding[] = [];
  const known = migrations.length;
  let dirStat;
  try {
    dirStat = await stat(dir);
  } catch (e) {
    return [error(`store directory ${dir} cannot be read (${messageOf(e)})`, 'start Hearth once (`hearth start`) to create the store')];
  }
  if (!dirStat.isDirectory()) return [error(`${dir} is not a directory`, `move it away; Hearth creates the store directory itself`)];
  const mode = dirStat.mode & 0o777;
  if (typeof process.getuid === 'function' && dirStat.uid !== process.getuid()) {
    findings.push(error(`store directory ${dir} is owned by uid ${dirStat.uid}, not by you`, `chown -R $(id -u) ${dir}`));
  }
  findings.push(
    mode === DIR_MODE
      ? ok(`store directory ${dir} has mode 700`)
      : warning(`store directory ${dir} has mode ${mode.toString(8)}; other users may read your data`, `chmod 700 ${dir}`),
  );

  const names = await readdir(dir);
  for (const name of names) {
    if (name === LOCK_FILE || !(name === SNAPSHOT_FILE || name === JOURNAL_FILE || ASIDE.test(name))) continue;
    const m = (await stat(path.join(dir, name))).mode & 0o777;
    if (m !== FILE_MODE) findings.push(warning(`${path.join(dir, name)} has mode ${m.toString(8)}`, `chmod 600 ${path.join(dir, name)}`));
  }
  const aside = names.filter((n) => ASIDE.test(n));
  if (aside.length) {
    findings.push(
      warning(
        `data Hearth set aside after damage or an import: ${aside.map((n) => path.join(dir, n)).join(', ')}`,
        'keep these until you have checked nothing is missing (they are never read by Hearth); then delete them',
      ),
    );
  }
  if (names.includes(SNAPSHOT_TMP_FILE)) findings.push(ok(`${SNAPSHOT_TMP_FILE} is an unfinished snapshot; Hearth deletes it on start`));

  const holder = await readLockPid(dir);
  const running = lockHolderAlive(holder);
  if (holder !== undefined) {
    findings.push(ok(running ? `store is open in process ${holder}` : `stale lock from process ${holder} (gone); Hearth takes it over on start`));
  }

  const SQL = await loadSqlJs();
  const snapPath = path.join(dir, SNAPSHOT_FILE);
  const journalPath = path.join(dir, JOURNAL_FILE);
  const snapBuf = await readIfExists(snapPath);
  const journalBuf = (await readIfExists(journalPath)) ?? Buffer.alloc(0);
  const restore = 'run `hearth store recover` (keeps what can still be read, sets the damaged files aside with a timestamp); then, to restore an export, `hearth import --force FILE`';

  let db: Database | undefined;
  let snapSeq = 0;
  try {
    if (!snapBuf) {
      if (journalBuf.length > 0 || aside.some((n) => n.startsWith(`${SNAPSHOT_FILE}.corrupt-`))) {
        findings.push(error(`no snapshot at ${snapPath}, but data is present; Hearth will refuse to start`, restore));
      } else {
        findings.push(warning(`no snapshot at ${snapPath}: the store has not been created yet`, 'start Hearth once (`hearth start`)'));
      }
      return findings;
    }
    let schema: number;
    try {
      const { header, db: image } = decodeSnapshot(snapBuf);
      db = new SQL.Database(new Uint8Array(image)); // a copy: this check never touches the file
      configureConnection(db);
      schema = readSchemaVersion(db);
      if (schema !== header.schemaVersion) throw new Error(`database schema ${schema} differs from the header's ${header.schemaVersion}`);
      snapSeq = header.seq;
      findings.push(ok(`snapshot ${snapPath}: header and CRC valid (${header.dbBytes} bytes, up to sequence ${header.seq}, ${header.createdAt})`));
    } catch (e) {
      findings.push(error(`snapshot ${snapPath} is corrupt (${messageOf(e)})`, restore));
      return findings;
    }

    if (schema > known) {
      findings.push(error(`store has schema version ${schema}, but this Hearth understands up to ${known}`, 'upgrade Hearth'));
      return findings;
    }
    findings.push(
      schema === known
        ? ok(`schema version ${schema} (current)`)
        : ok(`schema version ${schema}; Hearth migrates it to ${known} on next start`),
    );

    const scan = scanJournal(journalBuf, snapSeq);
    let replayed = 0;
    let replayError: string | undefined;
    for (const { record, offset } of scan.records) {
      if (record.seq <= snapSeq) continue;
      try {
        if (record.schema !== schema) throw new Error(`written under schema ${record.schema}, snapshot is at ${schema}`);
        const live = db;
        withWritable(live, () => {
          live.exec('BEGIN');
          try {
            for (const s of record.tx) {
              const params = s.params.map((p) => fromJsonValue(p));
              if (params.some((p) => p === undefined)) throw new Error('a parameter is not a SQL value');
              runStatement(live, s.sql, params as SqlValue[]);
            }
            live.exec('COMMIT');
          } catch (e) {
            live.exec('ROLLBACK');
            throw e;
          }
        });
        replayed++;
      } catch (e) {
        replayError = `journal record ${record.seq} at byte ${offset} cannot be applied (${messageOf(e)})`;
        break;
      }
    }
    if (replayError) findings.push(error(replayError, `Hearth will refuse to start; ${restore}`));
    else findings.push(ok(`journal ${journalPath}: ${scan.records.length} valid record(s), ${replayed} newer than the snapshot, all apply`));
    if (scan.invalid) {
      const dropped = journalBuf.length - scan.validBytes;
      findings.push(
        warning(
          `journal ${journalPath}: invalid data at byte offset ${scan.invalid.offset} (${scan.invalid.reason}), ${dropped} byte(s) to the end` +
            (running ? '; the store is open, so this may be a write in progress: run the check again' : ''),
          `start Hearth: it cuts the journal there and saves the ${dropped} dropped byte(s) as journal.corrupt-<time> (nothing acknowledged is in a torn tail)`,
        ),
      );
    }

    const integrity = db.exec('PRAGMA integrity_check')[0]?.values.map((r) => String(r[0])) ?? [];
    if (integrity.length === 1 && integrity[0] === 'ok') findings.push(ok('SQLite integrity_check: ok'));
    else findings.push(error(`SQLite integrity_check reports: ${integrity.slice(0, 5).join('; ')}`, `export what is readable and ${restore}`));
    return findings;
  } finally {
    db?.close();
  }
}
