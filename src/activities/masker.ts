const MASK = '[secret]';

/** Replaces every known secret value in a line of output. Longest first, so overlaps mask fully. */
export class Masker {
  private readonly values: string[];

  constructor(secrets: Iterable<string>) {
    const parts = new Set<string>();
    for (const s of secrets) {
      // Multi-line secrets (keys, certificates) reach logs one line at a time.
      for (const p of [s, ...s.split(/\r?\n/)]) if (p.trim().length >= 3) parts.add(p);
    }
    this.values = [...parts].sort((a, b) => b.length - a.length);
  }

  mask(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join(MASK);
    return out;
  }
}
