// One process per embedded data directory. Two processes on one directory would each keep their own
// in-memory vector graph (the last to close overwrites the other's), and opening a directory deletes the
// files of any unfinished rebuild, i.e. the other process's rebuild in progress. So the directory is locked
// with a LOCK file naming its owner; a lock whose process is gone (kill -9, power loss) is taken over.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export class DataDirLockedError extends Error {
  constructor(
    readonly dir: string,
    readonly owner: LockOwner,
  ) {
    super(
      `the data directory ${dir} is in use by process ${owner.pid} on ${owner.host} (${owner.what}, since ${owner.since}). ` +
        'Stop that process first, or submit the job to the running server (POST /v1/jobs). ' +
        `If no such process exists any more, delete ${path.join(dir, LOCK_FILE)}.`,
    );
  }
}

export interface LockOwner {
  pid: number;
  host: string;
  since: string;
  what: string;
}

export const LOCK_FILE = 'LOCK';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
  }
}

function readOwner(file: string): LockOwner | null {
  try {
    const o = JSON.parse(fs.readFileSync(file, 'utf8')) as LockOwner;
    return Number.isInteger(o.pid) ? o : null;
  } catch {
    return null; // half-written by a process killed while writing it, or not ours: stale
  }
}

// lock files this process holds: a lock naming our own pid that is not among them was left by an earlier
// process that had the same pid (containers restart with the same small pids)
const held = new Set<string>();

/** Is the lock's owner a running process (as far as this host can tell)? */
function ownerRunning(o: LockOwner, file: string): boolean {
  if (o.host !== os.hostname()) return true; // another host's lock (a shared file system) cannot be checked: respect it
  if (o.pid === process.pid) return held.has(file);
  // taken before this machine booted: whoever has that pid now is not its owner
  const since = Date.parse(o.since);
  if (Number.isFinite(since) && since < Date.now() - os.uptime() * 1000) return false;
  return alive(o.pid);
}

/** Takes the directory's lock or throws DataDirLockedError; returns the release function. */
export function lockDataDir(dir: string): () => void {
  const file = path.resolve(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), what: process.argv.slice(1, 3).map((a) => path.basename(a)).join(' ') || 'node' };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, 'wx'); // O_EXCL: exactly one opener wins
      try {
        fs.writeSync(fd, JSON.stringify(me));
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      held.add(file);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        held.delete(file);
        // remove it only while it is still ours
        if (readOwner(file)?.pid === me.pid) fs.rmSync(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const owner = readOwner(file);
    if (owner && ownerRunning(owner, file)) throw new DataDirLockedError(dir, owner);
    // stale: its process is gone. Rename it away first, so that of two processes taking over only one
    // removes the stale file and neither removes the other's fresh one.
    try {
      fs.renameSync(file, `${file}.stale-${process.pid}`);
      fs.rmSync(`${file}.stale-${process.pid}`, { force: true });
    } catch {
      /* someone else took it over first: try again */
    }
  }
  const owner = readOwner(file);
  throw new DataDirLockedError(dir, owner ?? { pid: -1, host: '?', since: '?', what: 'unknown' });
}
