// The errors report of a job: JSON Lines, one per failed item, {line, id, code, message}. Appended before
// the item is acknowledged; on resume the entries beyond the checkpoint are dropped (those lines run again),
// so that every failed line is reported exactly once.
import fs from 'node:fs';

export interface ErrorEntry {
  line: number;
  id: string | null;
  code: string;
  message: string;
}

export class ErrorsReport {
  count = 0;

  constructor(readonly file: string, keepUpToLine: number) {
    const kept: string[] = [];
    if (keepUpToLine > 0 && fs.existsSync(file)) {
      for (const text of fs.readFileSync(file, 'utf8').split('\n')) {
        if (!text.trim()) continue;
        try {
          if ((JSON.parse(text) as ErrorEntry).line <= keepUpToLine) kept.push(text);
        } catch {
          // a torn last line from a crash: that line runs again
        }
      }
    }
    fs.writeFileSync(file, kept.map((l) => `${l}\n`).join(''));
    this.count = kept.length;
  }

  add(e: ErrorEntry): void {
    fs.appendFileSync(this.file, `${JSON.stringify(e)}\n`);
    this.count++;
  }
}

export function readErrors(file: string): ErrorEntry[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as ErrorEntry)
    .sort((a, b) => a.line - b.line);
}
