/**
 * The fault suite: breaks workers, the broker and the receiver on purpose
 * during streams of requests and reports sent, answered, lost and
 * duplicated for each case. Lost must be 0. Run `deno task chaos --help`.
 */
import { writeFileAtomic } from "../shared/fs/atomic_write.ts";
import { type CliSpec, parseCli } from "../shared/cli/flags.ts";
import { runMain, UsageError } from "../shared/cli/run_main.ts";
import { parseConfig } from "../shared/config.ts";
import { exists } from "../shared/fs/exists.ts";
import { loadFashionMnist, SYSTEM_DATA_DIR } from "../shared/data/dataset_files.ts";
import { runTask } from "../harness/deno_task.ts";
import { brokerAnswers } from "../shared/kafka/connection.ts";
import { badRequests } from "../harness/bad_requests.ts";
import {
  badInput,
  type CaseOptions,
  type CaseResult,
  killBroker,
  killWorkers,
  restartBroker,
  restartReceiver,
} from "../harness/chaos_cases.ts";
import { uniqueService } from "../harness/service.ts";
import { ensureModelPair } from "../harness/model_pair.ts";
import { type ModelSwapResult, modelSwaps } from "../harness/model_swap_case.ts";
import { machineDescription } from "./machine.ts";

const CASES = ["bad", "kill", "receiver", "broker", "models", "cluster"];

const CLI = {
  summary: `
Fault suite against real Kafka: SIGKILL workers, restart the broker, restart the receiver,
publish and roll back models (and announce corrupt ones), and SIGKILL one broker of a
3-broker cluster, each during a stream of requests.`,
  usage: "deno task chaos [options]",
  flags: {
    count: {
      type: "int",
      help: "requests in the worker-kill stream (the others use half)",
      default: 20_000,
      min: 100,
    },
    rate: { type: "int", arg: "R", help: "requests per second", default: 1000, min: 1 },
    model: { type: "string", arg: "DIR", help: "model to serve", default: "artifacts/model" },
    cases: {
      type: "string",
      arg: "LIST",
      help: `comma-separated subset of ${CASES.join(",")}`,
      default: CASES.join(","),
    },
  },
  notes: `
Needs the local broker of deno task kafka:start (it restarts it, and runs a 3-broker
cluster for the last case). Writes bench/results/chaos.json; exits 1 if anything is lost.`,
} as const satisfies CliSpec;

/** The --cases list as a set, each name checked. */
function parseCases(list: string): Set<string> {
  const cases = new Set(list.split(",").map((c) => c.trim()));
  for (const c of cases) {
    if (!CASES.includes(c)) {
      throw new UsageError(`--cases expects some of ${CASES.join(",")}, got '${c}'`);
    }
  }
  return cases;
}

/**
 * The model-update case: two small models (trained once into .tmp/),
 * publish B and roll back to A during the stream, then three corrupt
 * announcements. Its checks go into the result's notes.
 */
async function modelsCase(o: CaseOptions): Promise<ModelSwapResult> {
  const r = await modelSwaps({
    service: o.service,
    models: await ensureModelPair(),
    set: o.set,
    count: o.count,
    rate: o.rate,
    corrupt: ["badHash", "truncated", "wrongShape"],
  });
  r.notes.push(
    `answers per model ${JSON.stringify(r.models)}, foreign ${r.foreign}, ` +
      `stale ${r.stale}, refused per worker ${r.refused.join("/")}, ` +
      `p99 ${r.steadyP99.toFixed(1)} ms steady, ${r.swapP99.toFixed(1)} ms during the swaps`,
  );
  return r;
}

/** The model case's checks beyond "nothing lost": see docs/models.md. */
function modelsPass(r: ModelSwapResult): boolean {
  return r.foreign === 0 && r.stale === 0 && r.refused.every((n) => n === 3) &&
    r.swapP99 <= 2 * r.steadyP99;
}

/** What to run, from the flags. */
interface Plan {
  cases: Set<string>;
  count: number;
  rate: number;
  model: string;
}

/** What the cases found, for the table, chaos.json and the exit code. */
interface SuiteOutcome {
  results: CaseResult[];
  /** The bad-input case's figures, as written to chaos.json; absent when it did not run. */
  badSummary?: Record<string, unknown>;
  modelsOk: boolean;
}

async function main(): Promise<number> {
  const plan = parsePlan(Deno.args);
  if (!plan) return 0;
  const wasRunning = await prepareBroker(plan.model);
  const set = await loadFashionMnist(SYSTEM_DATA_DIR, "test");
  const outcome = await restoringBroker(wasRunning, () => runCases(plan, set));
  printTable(outcome.results);
  await writeResults(plan.rate, outcome);
  return verdict(plan.cases, outcome);
}

/** The flags as a plan, or undefined when --help was answered. */
function parsePlan(args: string[]): Plan | undefined {
  const flags = parseCli(args, CLI);
  if (!flags) return undefined;
  const cases = parseCases(flags.cases);
  const { count, rate, model } = flags;
  return { cases, count, rate, model };
}

/**
 * Checks that the model exists and that any broker answering is kafka:start's
 * own (the suite restarts brokers), then starts one if none answers.
 * Returns whether one was running before, to restart it at the end.
 */
async function prepareBroker(model: string): Promise<boolean> {
  if (!(await exists(`${model}/model.json`))) {
    throw new Error(`No model at ${model}: run 'deno task train' first or pass --model DIR`);
  }
  const single = parseConfig({}).kafka;
  const wasRunning = await brokerAnswers(single);
  if (wasRunning && !(await exists(".kafka/node-1/pid"))) {
    throw new Error(
      "a broker answers on localhost:9092 that kafka:start did not start; chaos restarts brokers, so stop it first",
    );
  }
  if (!wasRunning) await runTask("kafka:start");
  return wasRunning;
}

/**
 * Runs `work`, then, even when it throws, stops the brokers the suite ran
 * (deleting their data) and restarts the single broker if one ran before.
 */
async function restoringBroker<T>(wasRunning: boolean, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } finally {
    await runTask("kafka:stop", ["--clean"]).catch(() => {});
    if (wasRunning) await runTask("kafka:start");
  }
}

/** Runs the chosen cases in order, printing each one's line as it ends. */
async function runCases(plan: Plan, set: CaseOptions["set"]): Promise<SuiteOutcome> {
  const { cases, count, rate, model } = plan;
  const options = (tag: string, n: number, brokers?: string): CaseOptions => ({
    service: uniqueService(`chaos-${tag}`, { brokers }),
    model,
    set,
    count: n,
    rate,
  });
  const outcome: SuiteOutcome = { results: [], modelsOk: true };
  const report = (r: CaseResult) => {
    outcome.results.push(r);
    printCase(r);
  };
  if (cases.has("bad")) outcome.badSummary = await badCase(model, set, count);
  // Half rate: each replacement needs a few seconds to start, and all three
  // kills should land while requests are still arriving.
  if (cases.has("kill")) {
    report(await killWorkers({ ...options("kill", count), rate: rate / 2, kills: 3 }));
  }
  if (cases.has("receiver")) {
    report(await restartReceiver(options("receiver", count / 2)));
  }
  if (cases.has("broker")) {
    report(await restartBroker(options("broker", count / 2)));
  }
  if (cases.has("models")) {
    const r = await modelsCase(options("models", count / 2));
    report(r);
    outcome.modelsOk = modelsPass(r);
  }
  if (cases.has("cluster")) {
    await runTask("kafka:stop");
    await runTask("kafka:start", ["--brokers", "3"]);
    const cluster = "127.0.0.1:9092,127.0.0.1:9094,127.0.0.1:9096";
    report(await killBroker(options("cluster", count / 2, cluster)));
  }
  return outcome;
}

/** One case's line on stderr, with its notes below it. */
function printCase(r: CaseResult): void {
  console.error(
    `${r.name}: sent ${r.sent}, answered ${r.answered} (${r.errorReplies} by error replies), lost ${r.lost}, duplicated ${r.duplicated} (${
      r.seconds.toFixed(1)
    } s)${r.notes.length ? `\n  ${r.notes.join("\n  ")}` : ""}`,
  );
}

/**
 * The bad-input case: malformed requests mixed into a stream of `count / 4`
 * good ones. Prints what it found and returns its figures for chaos.json.
 */
async function badCase(
  model: string,
  set: CaseOptions["set"],
  count: number,
): Promise<Record<string, unknown>> {
  const bad = await badInput({
    service: uniqueService("chaos-bad"),
    model,
    set,
    good: count / 4,
    bad: badRequests("chaos"),
  });
  const misfiled = bad.deadLetters.filter((d) => d.got !== d.expected);
  console.error(
    `bad input: ${bad.kinds} kinds of malformed requests in a stream of ${bad.good} good ones: ` +
      `${
        bad.kinds - misfiled.length
      } in the DLQ with the expected code, ${bad.errorReplies.length} of ${bad.expectedReplies} error replies, ` +
      `${bad.goodAnswered} of ${bad.goodSentMixed} good predicted, ${bad.goodErrorReplies} good given an error reply, ` +
      `by ${bad.workers.size} worker (exited: ${bad.workerExited}); ` +
      `good throughput ${bad.goodPerSecondClean.toFixed(0)}/s alone, ${
        bad.goodPerSecondMixed.toFixed(0)
      }/s mixed (clean, mixed, clean, mixed)`,
  );
  for (const m of misfiled) console.error(`  ${m.kind}: expected ${m.expected}, got ${m.got}`);
  const wrongReplies = bad.errorReplies.filter((r) => r.code !== r.expected);
  for (const r of wrongReplies) {
    console.error(`  reply ${r.id}: expected ${r.expected}, got ${r.code}`);
  }
  return {
    kinds: bad.kinds,
    dead_letters_with_expected_code: bad.kinds - misfiled.length,
    dead_letters: bad.deadLetters.map(({ kind, expected, got }) => ({ kind, expected, got })),
    error_replies: bad.errorReplies.length,
    error_replies_with_expected_code: bad.errorReplies.length - wrongReplies.length,
    expected_error_replies: bad.expectedReplies,
    good_per_stream: bad.good,
    good_sent_mixed: bad.goodSentMixed,
    good_predicted_mixed: bad.goodAnswered,
    good_error_replies: bad.goodErrorReplies,
    worker_restarted: bad.workerExited || bad.workers.size !== 1,
    good_per_second_runs: bad.goodPerSecondRuns,
    good_per_second_alone: bad.goodPerSecondClean,
    good_per_second_mixed: bad.goodPerSecondMixed,
  };
}

/** The machine, then one Markdown table row per case, on stdout. */
function printTable(results: CaseResult[]): void {
  console.log(`machine: ${machineDescription()}`);
  console.log("");
  console.log("| case | sent | answered | error replies | lost | duplicated | seconds |");
  console.log("| --- | --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.sent} | ${r.answered} | ${r.errorReplies} | ${r.lost} | ${r.duplicated} | ${
        r.seconds.toFixed(1)
      } |`,
    );
  }
}

/** bench/results/chaos.json: the machine, the command, and every case's figures. */
async function writeResults(rate: number, outcome: SuiteOutcome): Promise<void> {
  await Deno.mkdir("bench/results", { recursive: true });
  await writeFileAtomic(
    "bench/results/chaos.json",
    JSON.stringify(
      {
        machine: machineDescription(),
        command: `deno task chaos ${Deno.args.join(" ")}`.trim(),
        rate,
        results: outcome.results,
        bad_input: outcome.badSummary ?? null,
      },
      null,
      2,
    ) + "\n",
  );
}

/**
 * Prints the totals and what failed; the exit code: 0 when nothing was lost,
 * no good request got an error reply, and the bad-input and model checks held.
 */
function verdict(cases: Set<string>, outcome: SuiteOutcome): number {
  const { results, badSummary, modelsOk } = outcome;
  const lost = results.reduce((n, r) => n + r.lost, 0);
  const errorReplies = results.reduce((n, r) => n + r.errorReplies, 0);
  console.log(lost === 0 ? "\nlost: 0 in every case" : `\nLOST ${lost} requests`);
  if (badSummary) console.log(`bad input: ${JSON.stringify(badSummary)}`);
  const badOk = !cases.has("bad") || badSummary !== undefined && badInputPass(badSummary);
  if (errorReplies > 0) console.log(`${errorReplies} good requests got an error reply`);
  if (!modelsOk) console.log("models: a check of the model-swap case failed (see its notes)");
  return lost === 0 && errorReplies === 0 && badOk && modelsOk ? 0 : 1;
}

/**
 * The bad-input case's checks: every bad request dead-lettered and answered
 * with its expected code, every good one predicted, and the worker never restarted.
 */
function badInputPass(s: Record<string, unknown>): boolean {
  return s.dead_letters_with_expected_code === s.kinds &&
    s.error_replies === s.expected_error_replies &&
    s.error_replies_with_expected_code === s.expected_error_replies &&
    s.good_predicted_mixed === s.good_sent_mixed &&
    s.good_error_replies === 0 && !s.worker_restarted;
}

if (import.meta.main) await runMain(main);
