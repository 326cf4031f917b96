import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, {
    cwd,
    env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' },
  })
    .toString()
    .trim();

export interface TestRepo {
  url: string;
  bare: string;
  /** Commits `files` (relative path → content) on top of main; returns the new sha. */
  commit(files: Record<string, string>): string;
}

/** A bare git repository holding the test Pulumi program, served over file://. */
export function createProgramRepo(project = 'website'): TestRepo {
  const root = mkdtempSync(join(tmpdir(), 'stackwright-repo-'));
  const work = join(root, 'work');
  const bare = join(root, 'program.git');
  cpSync(join(__dirname, '..', 'fixtures', 'program'), work, { recursive: true });
  writeFileSync(join(work, 'Pulumi.yaml'), `name: ${project}\nruntime: nodejs\n`);
  git(root, 'init', '-q', '-b', 'main', work);
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'program');
  git(root, 'clone', '-q', '--bare', work, bare);
  return {
    url: `file://${bare}`,
    bare,
    commit(files) {
      for (const [p, c] of Object.entries(files)) writeFileSync(join(work, p), c);
      git(work, 'add', '-A');
      git(work, 'commit', '-qm', 'change');
      git(work, 'push', '-q', bare, 'main');
      return git(work, 'rev-parse', 'HEAD');
    },
  };
}

/** A clone of a test repository that tests commit on and push branches from. */
export interface WorkingCopy {
  dir: string;
  /** Runs git in the clone; returns its trimmed output. */
  git(...args: string[]): string;
  /** Writes `files` on `branch` (created or reset from HEAD), commits and force-pushes it; returns the sha. */
  commitOn(branch: string, files: Record<string, string>, o?: { allowEmpty?: boolean }): string;
}

export function cloneRepo(url: string, prefix = 'stackwright-work-'): WorkingCopy {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  execFileSync('git', ['clone', '-q', url, dir]);
  const run = (...args: string[]) => git(dir, ...args);
  return {
    dir,
    git: run,
    commitOn(branch, files, o = {}) {
      run('checkout', '-q', '-B', branch);
      for (const [p, c] of Object.entries(files)) writeFileSync(join(dir, p), c);
      run('add', '-A');
      run('commit', '-qm', 'change', ...(o.allowEmpty ? ['--allow-empty'] : []));
      run('push', '-q', '-f', 'origin', `HEAD:refs/heads/${branch}`);
      return run('rev-parse', 'HEAD');
    },
  };
}
