/**
 * A small seeded PRNG (mulberry32): the same seed gives the same sequence
 * on every machine, which Math.random cannot promise.
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles `items` in place (Fisher-Yates) with `random`, and returns it. */
export function shuffleInPlace<T extends { length: number; [i: number]: number }>(
  items: T,
  random: () => number,
): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
  return items;
}

/**
 * Splits indices 0..count-1 into a training part and a held-out validation
 * part of `Math.round(count * fraction)` indices, after a seeded shuffle.
 */
export function splitIndices(
  count: number,
  fraction: number,
  random: () => number,
): { train: Int32Array; validation: Int32Array } {
  if (!(fraction >= 0 && fraction < 1)) {
    throw new RangeError(`validation fraction must be in [0, 1), got ${fraction}`);
  }
  const all = shuffleInPlace(Int32Array.from({ length: count }, (_, i) => i), random);
  const held = Math.round(count * fraction);
  return { train: all.slice(held), validation: all.slice(0, held) };
}
