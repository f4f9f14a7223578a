// One process per embedded data directory. Two processes on one directory would each keep their own
// in-memory vector graph (the last to close overwrites the other's), and opening a directory deletes the
// files of any unfinished rebuild, i.e. the other process's rebuild in progress.
//
// The lock is SQLite's own exclusive lock on `LOCK.db`, held for the life of the backend: an OS lock,
// so the kernel drops it when its process dies (kill -9, a crash, a recreated container), whatever pid or
// host the next process has. `LOCK` beside it only says who holds it, for the error message.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';

export const LOCK_FILE = 'LOCK';
const LOCK_DB = 'LOCK.db'; // not *.sqlite: store files are told by that ending

export interface LockOwner {
  pid: number;
  host: string;
  since: string;
  what: string;
}

export class DataDirLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly owner: LockOwner | null,
  ) {
    super(
      `the data directory ${dir} is in use by ${owner ? `process ${owner.pid} on ${owner.host} (${owner.what}, since ${owner.since})` : 'another process'}. ` +
        'Stop that process first, or submit the job to the running server (POST /v1/jobs).',
    );
  }
}

function readOwner(dir: string): LockOwner | null {
  try {
    const o = JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')) as LockOwner;
    return Number.isInteger(o.pid) ? o : null;
  } catch {
    return null;
  }
}

/** Takes the directory's lock or throws DataDirLockedError; returns the release function. */
export function lockDataDir(dir: string): () => void {
  const db = new Database(path.join(dir, LOCK_DB), { timeout: 0 });
  try {
    // EXCLUSIVE locking mode keeps the lock after the first write until the connection closes
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS holder (x); COMMIT;');
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirLockedError(dir, readOwner(dir));
    throw e;
  }
  const me: LockOwner = {
    pid: process.pid,
    host: os.hostname(),
    since: new Date().toISOString(),
    what: process.argv.slice(1, 3).map((a) => path.basename(a)).join(' ') || 'node',
  };
  const info = path.join(dir, LOCK_FILE);
  fs.writeFileSync(`${info}.tmp`, JSON.stringify(me));
  fs.renameSync(`${info}.tmp`, info);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    fs.rmSync(info, { force: true });
    db.close();
  };
}
