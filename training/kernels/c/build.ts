/**
 * Builds conv_relu_pool.wasm and conv_relu_pool_shared.wasm from conv_relu_pool.c with Debian's clang and
 * lld (`apt-get install clang lld`): `deno task kernels:build`. The built
 * file is committed, so training needs no toolchain; `--check` (CI) builds
 * to a scratch file and fails when the committed binary differs from it.
 * Both import their memory (env.memory): the first runs on TF.js's wasm
 * heap, the second on the helper thread's shared memory. Both export their
 * stack pointer (see conv_relu_pool_wasm.ts for why).
 */
import { runMain, UsageError } from "../../../shared/cli/run_main.ts";

const here = new URL(".", import.meta.url).pathname;
const SOURCE = "conv_relu_pool.c";
/** The builds: one for TF.js's heap, one for the helper thread's shared memory. */
const OUTPUTS = { heap: "conv_relu_pool.wasm", shared: "conv_relu_pool_shared.wasm" };
/** The shared memory's limit: gemm_helper.ts's MAX_PAGES (1 GiB). */
const SHARED_MAX_BYTES = 1_073_741_824;
const EXPORTS = [
  "conv_relu_pool",
  "conv_relu_pool_filter_grad",
  "conv_relu_pool_bias_grad",
  "conv_relu_pool_input_grad",
  "__stack_pointer",
];

/** clang's arguments building `source` into `output` (paths relative to this folder). */
export function clangArgs(source: string, output: string, shared: boolean): string[] {
  const sharedMemory = shared
    ? ["-matomics", "-Wl,--shared-memory", `-Wl,--max-memory=${SHARED_MAX_BYTES}`]
    : [];
  return [
    "--target=wasm32",
    "-O3",
    "-msimd128",
    "-mbulk-memory",
    "-mmutable-globals",
    "-nostdlib",
    ...sharedMemory,
    "-Wl,--no-entry",
    "-Wl,--import-memory",
    "-Wl,--strip-all",
    "-Wl,-z,stack-size=65536",
    ...EXPORTS.map((name) => `-Wl,--export=${name}`),
    "-o",
    output,
    source,
  ];
}

async function clang(output: string, shared: boolean): Promise<void> {
  const { code, stderr } = await new Deno.Command("clang", {
    args: clangArgs(SOURCE, output, shared),
    cwd: here,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(`clang exited with ${code}: ${new TextDecoder().decode(stderr)}`);
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

async function main(): Promise<void> {
  const check = Deno.args[0] === "--check";
  if (Deno.args.length > 1 || (Deno.args.length === 1 && !check)) {
    throw new UsageError(`Expected no argument or --check, got ${Deno.args.join(" ")}`);
  }
  for (const [kind, output] of Object.entries(OUTPUTS)) {
    if (check) await checkOne(output, kind === "shared");
    else {
      await clang(output, kind === "shared");
      console.log(`built ${here}${output}`);
    }
  }
}

/** Builds `output` to a scratch file and fails when it differs from the committed one. */
async function checkOne(output: string, shared: boolean): Promise<void> {
  const scratch = ".check.wasm";
  try {
    await clang(scratch, shared);
    const [built, committed] = await Promise.all(
      [scratch, output].map((f) => Deno.readFile(here + f)),
    );
    if (!sameBytes(built, committed)) {
      throw new Error(
        `${output} does not match ${SOURCE}: run deno task kernels:build and commit it`,
      );
    }
    console.log(`${output} matches ${SOURCE}`);
  } finally {
    await Deno.remove(here + scratch).catch(() => {});
  }
}

if (import.meta.main) await runMain(main);
