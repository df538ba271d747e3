/**
 * A small seeded PRNG (mulberry32): the same seed gives the same numbers in [0, 1) on every
 * run, so fault patterns (ssm-agent.mjs) and benchmark data sets (scripts/bench-upload.mjs)
 * repeat from run to run.
 * @param {number} seed
 * @returns {() => number}
 */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
