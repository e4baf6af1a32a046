/**
 * Saving and loading models through tf.io (model topology JSON + weights), in memory and on disk,
 * without tfjs-node's file:// handler. Custom layers (src/layers) are registered for deserialization.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import '../layers';
import { atomicWrite } from '../util/fs';

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

/** Writes `model.json` and `weights.bin` into `dir` (atomically, file by file). */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  const a = await saveModelToMemory(model);
  fs.mkdirSync(dir, { recursive: true });
  const weights = Buffer.from(a.weightData as ArrayBuffer);
  atomicWrite(path.join(dir, 'weights.bin'), weights);
  const json = { modelTopology: a.modelTopology, weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }], format: 'layers-model', generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}` };
  atomicWrite(path.join(dir, 'model.json'), JSON.stringify(json));
}

/** Loads what `saveModel` wrote. */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  const jsonPath = path.join(dir, 'model.json');
  if (!fs.existsSync(jsonPath)) throw new Error(`No saved model at ${jsonPath}`);
  const json = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  const data = fs.readFileSync(path.join(dir, 'weights.bin'));
  const weightData = data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return loadModelFromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData });
}
