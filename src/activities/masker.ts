const MASK = '[secret]';

/**
 * Replaces every known secret value in a line of output. Every occurrence of every value is found
 * in the original text first and overlapping or adjacent matches are masked as one, so secrets
 * that overlap (not just nest) leak no characters.
 */
export class Masker {
  private readonly values: string[];

  constructor(secrets: Iterable<string>) {
    const parts = new Set<string>();
    for (const s of secrets) {
      // Multi-line secrets (keys, certificates) reach logs one line at a time.
      for (const p of [s, ...s.split(/\r?\n/)]) if (p.trim().length >= 3) parts.add(p);
    }
    this.values = [...parts];
  }

  /** A secret learnt while the step runs (a copied config secret). */
  add(secret: string): void {
    for (const p of new Masker([secret]).values) if (!this.values.includes(p)) this.values.push(p);
  }

  mask(text: string): string {
    const ranges: [number, number][] = [];
    for (const v of this.values) {
      for (let i = text.indexOf(v); i !== -1; i = text.indexOf(v, i + 1)) ranges.push([i, i + v.length]);
    }
    if (ranges.length === 0) return text;
    ranges.sort((a, b) => a[0] - b[0]);
    let out = '';
    let end = -1; // end of the masked run being built
    for (const [s, e] of ranges) {
      if (s > end) out += text.slice(Math.max(end, 0), s) + MASK;
      end = Math.max(end, e);
    }
    return out + text.slice(end);
  }
}
