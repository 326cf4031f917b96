import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// A value is `sw-<id>-<secret>`: the id finds the stored hash without searching by secret, and
// lets a token be listed and revoked without its value.
const VALUE = /^sw-([0-9a-f]{16})-[0-9a-f]{48}$/;

export function newTokenValue(): { id: string; value: string } {
  const id = randomBytes(8).toString('hex');
  return { id, value: `sw-${id}-${randomBytes(24).toString('hex')}` };
}

/** The id a well-formed value names; undefined for anything else. */
export const tokenIdOf = (value: string): string | undefined => VALUE.exec(value)?.[1];

/**
 * Values are random (192 bits), so an unsalted SHA-256 is enough to keep the stored hash useless
 * to a reader of the database.
 */
export const hashToken = (value: string): string => createHash('sha256').update(value, 'utf8').digest('hex');

/** Compares in constant time: hashes have one length whatever the value's. */
export function valueMatches(value: string, hash: string): boolean {
  return /^[0-9a-f]{64}$/.test(hash) && timingSafeEqual(Buffer.from(hashToken(value), 'hex'), Buffer.from(hash, 'hex'));
}
