import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Constant time whatever the inputs: both sides are hashed first, so neither a length difference
 * nor a matching prefix shows in the timing.
 */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
