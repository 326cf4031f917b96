import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A small installed-looking tree: a package with a plain file, an executable and a .bin link (39 bytes). */
export function smallTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sw-tree-'));
  mkdirSync(join(dir, 'a', '.bin'), { recursive: true });
  writeFileSync(join(dir, 'a', 'index.js'), 'module.exports = 1;');
  writeFileSync(join(dir, 'a', 'cli.js'), '#!/usr/bin/env node\n', { mode: 0o755 });
  symlinkSync('../cli.js', join(dir, 'a', '.bin', 'cli'));
  return dir;
}
