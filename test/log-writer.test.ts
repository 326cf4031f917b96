import { LogWriter, logPipeline } from '../src/activities/log-writer';
import { Masker } from '../src/activities/masker';
import type { Store } from '../src/store/store';

type Line = { seq: number; ts: string; line: string };

/** A log store that fails while `down` is set, as a database blip would. */
function flakyStore() {
  const rows = new Map<number, string>();
  const s = {
    down: false,
    attempts: 0,
    async countLogs() {
      return 0;
    },
    async appendLogs(_id: string, _step: number, lines: Line[]) {
      s.attempts++;
      if (s.down) throw new Error('SQLITE_BUSY: database is locked');
      for (const l of lines) if (!rows.has(l.seq)) rows.set(l.seq, l.line);
    },
    /** Stored lines by seq; throws on a gap, since a token is a position. */
    lines(): string[] {
      const seqs = [...rows.keys()].sort((a, b) => a - b);
      seqs.forEach((q, i) => {
        if (q !== i) throw new Error(`seq ${i} missing`);
      });
      return seqs.map((q) => rows.get(q)!.trimEnd());
    },
  };
  return s;
}

const open = (store: ReturnType<typeof flakyStore>, o: Parameters<typeof LogWriter.open>[4] = {}) =>
  LogWriter.open(store as unknown as Store, 'd1', 0, new Masker(['s3cr3t']), { retryMs: { initial: 5, max: 20 }, ...o });

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
};

test('lines written while the store fails are kept and land once it is back, in order and masked', async () => {
  const store = flakyStore();
  const failedBefore = logPipeline.failedWrites;
  const log = await open(store);
  log.line('before');
  await until(() => store.lines().length === 1);
  store.down = true;
  for (let i = 0; i < 30; i++) log.write(`during ${i} s3cr3t\n`);
  await until(() => store.attempts > 4);
  store.down = false;
  log.line('after');
  await log.close();
  expect(store.lines()).toEqual(['before', ...Array.from({ length: 30 }, (_, i) => `during ${i} [secret]`), 'after']);
  expect(log.droppedLines).toBe(0);
  expect(logPipeline.failedWrites).toBeGreaterThan(failedBefore);
});

test('past the buffer bound, lines are dropped, counted, and marked where they were lost', async () => {
  const store = flakyStore();
  const log = await open(store, { maxBuffered: 10 });
  store.down = true;
  for (let i = 0; i < 50; i++) log.line(`line ${i}`);
  await until(() => store.attempts > 2);
  store.down = false;
  // Room again once the buffered lines are written.
  await until(() => store.lines().length === 10);
  log.line('back');
  await log.close();
  expect(log.droppedLines).toBe(40);
  expect(store.lines()).toEqual([
    ...Array.from({ length: 10 }, (_, i) => `line ${i}`),
    '[40 line(s) of output dropped here: the log store could not be written]',
    'back',
  ]);
});

test('a store that never comes back does not hold the step: close gives up and counts what was lost', async () => {
  const store = flakyStore();
  store.down = true;
  const log = await open(store, { closeTimeoutMs: 200 });
  log.line('one');
  log.line('two');
  await log.close();
  expect(log.droppedLines).toBe(2);
  expect(store.lines()).toEqual([]);
});
