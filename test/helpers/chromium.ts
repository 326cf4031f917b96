import { execFileSync, spawnSync } from 'node:child_process';

const CANDIDATES = ['chromium', 'chromium-browser'];

const which = (name: string): string | undefined => {
  const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() || undefined : undefined;
};

/**
 * Debian's chromium for the browser tests: CHROMIUM_PATH, or on the PATH, or installed with apt-get
 * when running as root (as the test set-up does for PostgreSQL). No browser is ever downloaded.
 */
export function chromiumPath(): string {
  if (process.env.CHROMIUM_PATH) return process.env.CHROMIUM_PATH;
  const found = () => CANDIDATES.map(which).find(Boolean);
  let path = found();
  if (!path && process.getuid?.() === 0 && which('apt-get')) {
    try {
      execFileSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'], { stdio: 'ignore', timeout: 300_000 });
    } catch {
      /* reported below */
    }
    path = found();
  }
  if (!path) throw new Error('the dashboard tests need Debian\'s chromium: apt-get install chromium (or set CHROMIUM_PATH)');
  return path;
}
