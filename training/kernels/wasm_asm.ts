/**
 * A minimal WebAssembly assembler: enough to build small SIMD kernels that
 * work directly on TF.js's wasm heap. There is no wasm toolchain on our
 * machines and nothing may be downloaded, so the kernels are written here as
 * code and assembled at start-up (microseconds).
 */

export type ValType = "i32" | "f32" | "v128";
const VALTYPE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, v128: 0x7b };

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const bytesOf = (s: string) => [...new TextEncoder().encode(s)];
const vec = (items: number[][]) => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];

/** Builds one function body; locals are named, control flow is structured. */
export class Fn {
  readonly name: string;
  readonly params: string[];
  #locals: { name: string; type: ValType }[] = [];
  #index = new Map<string, number>();
  code: number[] = [];

  constructor(name: string, params: string[]) {
    this.name = name;
    this.params = params;
    params.forEach((p, i) => this.#index.set(p, i));
  }

  local(name: string, type: ValType): this {
    this.#index.set(name, this.params.length + this.#locals.length);
    this.#locals.push({ name, type });
    return this;
  }

  #idx(name: string): number {
    const i = this.#index.get(name);
    if (i === undefined) throw new Error(`wasm_asm: no local '${name}' in ${this.name}`);
    return i;
  }

  get(name: string): this {
    this.code.push(0x20, ...uleb(this.#idx(name)));
    return this;
  }
  set(name: string): this {
    this.code.push(0x21, ...uleb(this.#idx(name)));
    return this;
  }
  tee(name: string): this {
    this.code.push(0x22, ...uleb(this.#idx(name)));
    return this;
  }
  i32(n: number): this {
    this.code.push(0x41, ...sleb(n | 0));
    return this;
  }
  op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }
  simd(opcode: number, ...imm: number[]): this {
    this.code.push(0xfd, ...uleb(opcode), ...imm);
    return this;
  }

  /** `for (name = from; name < to; name += step) body` with i32 locals. */
  for(
    name: string,
    from: () => void,
    to: () => void,
    step: number | (() => void),
    body: () => void,
  ): this {
    from();
    this.set(name);
    this.op(0x02, 0x40); // block
    this.get(name);
    to();
    this.op(0x4e, 0x0d, 0); // i32.ge_s; br_if 0 (skip when empty)
    this.op(0x03, 0x40); // loop
    body();
    this.get(name);
    if (typeof step === "number") this.i32(step);
    else step();
    this.op(0x6a).tee(name); // i32.add
    to();
    this.op(0x48, 0x0d, 0); // i32.lt_s; br_if 0 (continue)
    this.op(0x0b, 0x0b); // end loop, end block
    return this;
  }

  /** `if (cond) then [else otherwise]` (cond leaves an i32 on the stack). */
  if(cond: () => void, then: () => void, otherwise?: () => void): this {
    cond();
    this.op(0x04, 0x40);
    then();
    if (otherwise) {
      this.op(0x05);
      otherwise();
    }
    this.op(0x0b);
    return this;
  }

  /** Pushes the i32 `name` as a byte address: base + name * 4. */
  addr(base: string, name: string): this {
    return this.get(base).get(name).i32(2).op(I32.shl).op(I32.add);
  }
  f32load(offset = 0): this {
    return this.op(0x2a, 0x00, ...uleb(offset));
  }
  f32store(offset = 0): this {
    return this.op(0x38, 0x00, ...uleb(offset));
  }
  v128load(offset = 0): this {
    return this.simd(0x00, 0x00, ...uleb(offset));
  }
  v128store(offset = 0): this {
    return this.simd(0x0b, 0x00, ...uleb(offset));
  }
  /** Pushes min(a, b) or max(a, b) of two i32 locals. */
  min(a: string, b: string): this {
    return this.get(a).get(b).get(a).get(b).op(I32.lt_s).op(I32.select);
  }
  max(a: string, b: string): this {
    return this.get(a).get(b).get(a).get(b).op(I32.gt_s).op(I32.select);
  }

  encode(): number[] {
    const groups = this.#locals.map((l) => [1, VALTYPE[l.type]]);
    const body = [...vec(groups), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/** i32 arithmetic and memory opcodes used by the kernels. */
export const I32 = {
  add: 0x6a,
  sub: 0x6b,
  mul: 0x6c,
  shl: 0x74,
  and: 0x71,
  lt_s: 0x48,
  gt_s: 0x4a,
  le_s: 0x4c,
  ge_s: 0x4e,
  eq: 0x46,
  eqz: 0x45,
  select: 0x1b,
} as const;

/**
 * Assembles functions (all params i32, no results) that import `env.memory`,
 * a shared memory (up to 4 GiB) when `sharedMemory` is set.
 */
export function assemble(fns: Fn[], sharedMemory = false): Uint8Array<ArrayBuffer> {
  const types = fns.map((f) => [0x60, ...vec(f.params.map(() => [VALTYPE.i32])), 0]);
  const memory = [
    ...uleb(3),
    ...bytesOf("env"),
    ...uleb(6),
    ...bytesOf("memory"),
    0x02,
    ...(sharedMemory ? [0x03, 0x00, ...uleb(65536)] : [0x00, 0x00]),
  ];
  const imports = [memory];
  const funcs = fns.map((_, i) => uleb(i));
  const exports = fns.map((f, i) => [...uleb(f.name.length), ...bytesOf(f.name), 0x00, ...uleb(i)]);
  const codes = fns.map((f) => f.encode());
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, vec(types)),
    ...section(2, vec(imports)),
    ...section(3, vec(funcs)),
    ...section(7, vec(exports)),
    ...section(10, vec(codes)),
  ]);
}
