/**
 * Saving and loading models through tf.io (model topology JSON + weights), in memory and on disk,
 * without tfjs-node's file:// handler. Custom layers (src/layers) are registered for deserialization.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import '../layers';
import { checkModelDir, writeModelFiles } from './manifest';

export {
  checkModelDir,
  MODEL_FILES,
  MODEL_MANIFEST,
  writeModelFiles,
  type ModelDirCheck,
  type ModelManifest,
} from './manifest';

export async function saveModelToMemory(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | null = null;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved!;
}

export async function loadModelFromMemory(artifacts: tf.io.ModelArtifacts): Promise<tf.LayersModel> {
  return tf.loadLayersModel(tf.io.fromMemory(artifacts));
}

/**
 * Writes `model.json`, `weights.bin` and, last, `manifest.json` (their sizes and SHA-256) into `dir`, each
 * atomically. The folder counts as complete only when the manifest is there and matches (`checkModelDir`).
 */
export async function saveModel(model: tf.LayersModel, dir: string, meta?: Record<string, unknown>): Promise<void> {
  const a = await saveModelToMemory(model);
  const weights = Buffer.from(a.weightData as ArrayBuffer);
  const json = Buffer.from(
    JSON.stringify({
      modelTopology: a.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
      format: 'layers-model',
      generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    }),
    'utf8',
  );
  writeModelFiles(dir, { 'weights.bin': weights, 'model.json': json }, meta);
}

/** Loads what `saveModel` wrote, after checking sizes and checksums against its manifest. */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  const jsonPath = path.join(dir, 'model.json');
  if (!fs.existsSync(jsonPath)) throw new Error(`No saved model at ${jsonPath}`);
  const c = checkModelDir(dir);
  if (!c.ok)
    throw new Error(
      `Saved model in ${dir} is incomplete or damaged: ${c.why}. Rerun its experiment with --resume to rewrite it from the checkpoint (or --force to retrain).`,
    );
  const json = JSON.parse(c.files['model.json'].toString('utf8'));
  const data = c.files['weights.bin'];
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return loadModelFromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest[0].weights,
    weightData,
  });
}
