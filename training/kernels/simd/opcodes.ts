/** Opcodes the SIMD kernel bodies use, beyond those wasm_asm.ts names. */

/** SIMD opcodes (after the 0xfd prefix) the kernels use. */
export const V = {
  const: 0x0c,
  i32x4_splat: 0x11,
  f32x4_splat: 0x13,
  i32x4_extract: 0x1b,
  f32x4_extract: 0x1f,
  f32x4_gt: 0x44,
  bitselect: 0x52,
  i32x4_add: 0xae,
  i32x4_eq: 0x37,
  and: 0x4e,
  f32x4_add: 0xe4,
  f32x4_mul: 0xe6,
  f32x4_div: 0xe7,
  f32x4_sqrt: 0xe3,
  load32_splat: 0x09,
  relaxed_madd: 0x105,
} as const;
export const F32_ADD = 0x92;
export const F32_REINTERPRET_I32 = 0xbe;
