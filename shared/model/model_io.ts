import * as tf from "@tensorflow/tfjs";
import { writeFileAtomic } from "../fs/atomic_write.ts";
import { modelVersion, sha256Hex, type WeightSpec } from "./model_version.ts";

const MODEL_JSON = "model.json";

function concatWeights(data: ArrayBuffer | ArrayBuffer[]): Uint8Array {
  const parts = Array.isArray(data) ? data : [data];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(new Uint8Array(p), at);
    at += p.byteLength;
  }
  return out;
}

/**
 * A TF.js IO handler that saves a layers model into folder `dir` in the
 * standard format (model.json + one weights file). The weights file is named
 * by its content hash and written before model.json, each atomically, so a
 * killed save leaves the previous model whole.
 *
 * @example
 * ```ts
 * await model.save(fileSaver("artifacts/model"));
 * ```
 */
export function fileSaver(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (
        !artifacts.modelTopology || artifacts.modelTopology instanceof ArrayBuffer ||
        !artifacts.weightData
      ) {
        throw new TypeError("Expected a layers model with JSON topology and weights");
      }
      await Deno.mkdir(dir, { recursive: true });
      const weights = concatWeights(artifacts.weightData);
      const weightsFile = `weights.${(await sha256Hex(weights)).slice(0, 16)}.bin`;
      await writeFileAtomic(`${dir}/${weightsFile}`, weights);
      const modelJson: tf.io.ModelJSON = {
        modelTopology: artifacts.modelTopology,
        format: "layers-model",
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [weightsFile], weights: artifacts.weightSpecs ?? [] }],
      };
      if (artifacts.trainingConfig) modelJson.trainingConfig = artifacts.trainingConfig;
      await writeFileAtomic(`${dir}/${MODEL_JSON}`, JSON.stringify(modelJson));
      for await (const entry of Deno.readDir(dir)) {
        if (/^weights\..*\.bin$/.test(entry.name) && entry.name !== weightsFile) {
          await Deno.remove(`${dir}/${entry.name}`);
        }
      }
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
          weightDataBytes: weights.byteLength,
        },
      };
    },
  };
}

/**
 * A TF.js IO handler that reads a layers model folder (model.json with
 * local weight paths), for `tf.loadLayersModel`.
 *
 * @example
 * ```ts
 * const model = await tf.loadLayersModel(fileLoader("artifacts/model"));
 * ```
 */
export function fileLoader(dir: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(await Deno.readTextFile(`${dir}/${MODEL_JSON}`));
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) {
          throw Object.assign(
            new Error(
              `No model at ${dir}/${MODEL_JSON}: train one with 'deno task train' or pass --model DIR`,
            ),
            { name: "SetupError" },
          );
        }
        throw new Error(`Cannot read ${dir}/${MODEL_JSON}: ${(e as Error).message}`);
      }
      const manifest = json.weightsManifest ?? [];
      const parts: ArrayBuffer[] = [];
      for (const group of manifest) {
        for (const path of group.paths) {
          const bytes = await Deno.readFile(`${dir}/${path}`);
          parts.push(bytes.slice().buffer);
        }
      }
      return {
        modelTopology: json.modelTopology,
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy,
        trainingConfig: json.trainingConfig,
        weightSpecs: manifest.flatMap((g) => g.weights),
        weightData: concatWeights(parts).buffer as ArrayBuffer,
      };
    },
  };
}

/** A model read from disk, with an id that changes whenever its layers or weights do. */
export interface LoadedModel {
  model: tf.LayersModel;
  /** Content-addressed, "sha256:" + 16 hex digits: see modelVersion(). */
  version: string;
}

/**
 * The content-addressed version of loaded artifacts: the same on every host
 * and the same as the version a model:publish announcement of them carries.
 *
 * @example
 * ```ts
 * const version = await artifactsVersion(await fileLoader("artifacts/model").load!());
 * ```
 */
export async function artifactsVersion(artifacts: tf.io.ModelArtifacts): Promise<string> {
  return await modelVersion(
    artifacts.modelTopology,
    (artifacts.weightSpecs ?? []) as WeightSpec[],
    new Uint8Array(artifacts.weightData as ArrayBuffer),
  );
}

/**
 * Loads a model folder with {@linkcode fileLoader} and names its version by
 * the hash of its topology and weights.
 *
 * @example
 * ```ts
 * const { model, version } = await loadModel("artifacts/model");
 * ```
 */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const artifacts = await fileLoader(dir).load!();
  const version = await artifactsVersion(artifacts);
  const model = await tf.loadLayersModel({ load: () => Promise.resolve(artifacts) });
  return { model, version };
}
