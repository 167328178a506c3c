#!/usr/bin/env node
// Codes, anomaly scores, flags and classes from a biodae latent model (biodae.latent), in
// Node.js, without Python.
//
//   node latent.js [--batch ROWS] MODEL.onnx INPUT.f32 RESULT.json
//
// INPUT.f32 holds raw little-endian float32 values in C (row-major) order, one row per sample;
// INPUT.json beside it (same name, extension .json) gives the shape: {"shape": [n_rows, n_features]}
// (a single row may give [n_features]). The rows are in the units the model was fitted in
// (the shipped ECG beat models: biodae.beats.beat_features rows).
//
// Writes RESULT.json (model, threshold, per-row flag and, for a supervised model, class index and
// class name) and, beside it, RESULT.code.f32 [n_rows, latent_dim], RESULT.score.f32 [n_rows] and,
// supervised, RESULT.proba.f32 [n_rows, n_classes], each with its .json sidecar like INPUT's.
// Everything here is specified in docs/onnx.md ("Latent models"); the metadata are read from the
// ONNX file itself (onnxruntime-node does not expose custom metadata).
'use strict';

const fs = require('node:fs');
const { readOnnx, weightsSha256 } = require('./denoise.js');

const BATCH = 4096; // rows per graph call (rows are independent: any value gives the same result)

class UsageError extends Error {}

// The biodae.* metadata of a latent model, checked: what a client needs beyond the graph.
function latentMetadata(bytes, modelPath) {
  const { metadata: meta, initializers } = readOnnx(bytes);
  if (!meta['biodae.name'] && !meta['biodae.task'])
    throw new UsageError(`${modelPath}: not a biodae model (no biodae.* metadata)`);
  if (meta['biodae.schema_version'] !== '1')
    throw new UsageError(`${modelPath}: contract version ${meta['biodae.schema_version']}; this client reads version 1`);
  const task = meta['biodae.task'];
  if (task !== 'latent') {
    const what = task === undefined ? 'it has no biodae.task: a denoiser (run it with denoise.js)' : `biodae.task is "${task}"`;
    throw new UsageError(`${modelPath}: not a biodae latent model (biodae.task must be "latent"; ${what})`);
  }
  const digest = weightsSha256(initializers);
  if (meta['biodae.weights_sha256'] && digest !== null && digest !== meta['biodae.weights_sha256'])
    throw new UsageError(`${modelPath}: the weights do not match biodae.weights_sha256 (corrupt or modified file)`);
  const int = (key) => {
    const v = Number(meta[key]);
    if (!Number.isInteger(v) || v < 1) throw new UsageError(`${modelPath}: ${key} is ${JSON.stringify(meta[key])}, not a size`);
    return v;
  };
  const threshold = Number(meta['biodae.threshold']);
  if (meta['biodae.threshold'] === undefined || Number.isNaN(threshold))
    throw new UsageError(`${modelPath}: biodae.threshold is ${JSON.stringify(meta['biodae.threshold'])}, not a number`);
  const kind = meta['biodae.kind'] || '';
  let classes = null;
  if (kind === 'supervised') {
    try {
      classes = JSON.parse(meta['biodae.classes']);
    } catch (e) {
      classes = null;
    }
    if (!Array.isArray(classes) || classes.length === 0)
      throw new UsageError(`${modelPath}: a supervised model without a JSON list in biodae.classes`);
  }
  return {
    name: `${meta['biodae.name'] || 'autoencoder'} ${meta['biodae.version'] || ''}`.trim(),
    kind,
    nFeatures: int('biodae.n_features'),
    latentDim: int('biodae.latent_dim'),
    threshold, // a double: Python repr of a float, which Number() reads back exactly
    thresholdText: meta['biodae.threshold'],
    classes,
    meta,
  };
}

function readMatrix(file, nFeatures, modelName) {
  const sidecar = file.replace(/\.[^./]*$/, '') + '.json';
  if (!fs.existsSync(file)) throw new UsageError(`${file}: no such file`);
  if (!fs.existsSync(sidecar)) throw new UsageError(`${sidecar}: no such file (it gives the input's shape)`);
  let info;
  try {
    info = JSON.parse(fs.readFileSync(sidecar, 'utf8'));
  } catch (e) {
    throw new UsageError(`${sidecar}: not JSON (${e.message})`);
  }
  const shape = info.shape;
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 2 || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new UsageError(`${sidecar}: "shape" must be [n_rows, n_features] (or [n_features] for one row)`);
  const [n, cols] = shape.length === 1 ? [1, shape[0]] : shape;
  if (cols !== nFeatures)
    throw new UsageError(`model ${modelName} takes rows of ${nFeatures} features (biodae.n_features); ` +
      `the input has ${cols} columns`);
  const buf = fs.readFileSync(file);
  if (buf.length !== 4 * n * cols)
    throw new UsageError(`${file}: ${buf.length} bytes, but shape [${shape}] needs ${4 * n * cols} (float32)`);
  const data = new Float32Array(n * cols);
  for (let i = 0; i < data.length; i++) {
    const v = buf.readFloatLE(4 * i);
    if (!Number.isFinite(v))
      throw new UsageError(`${file}: row ${Math.floor(i / cols)}, column ${i % cols} is ${v}: the model takes finite ` +
        'values only (a NaN spreads to its whole row)');
    data[i] = v;
  }
  return { n, data };
}

// Index of the largest value of each row (the first one on ties, as numpy.argmax).
function argmaxRows(values, n, width) {
  const out = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let c = 1; c < width; c++) if (values[r * width + c] > values[r * width + best]) best = c;
    out[r] = best;
  }
  return out;
}

// Run the graph over the rows of `data` (Float32Array, n x nFeatures) in batches of `batch` rows.
// Both inputs are fed: the rows as x and one row of zeros as z (docs/onnx.md, "Both inputs must be fed").
async function runLatent(ort, session, model, data, n, batch = BATCH) {
  const { nFeatures, latentDim, classes } = model;
  const nClasses = classes ? classes.length : 0;
  const code = new Float32Array(n * latentDim);
  const score = new Float32Array(n);
  const proba = new Float32Array(n * nClasses);
  const z = new ort.Tensor('float32', new Float32Array(latentDim), [1, latentDim]);
  const fetches = ['code', 'score', ...(classes ? ['proba'] : [])];
  for (let start = 0; start < n; start += batch) {
    const rows = Math.min(batch, n - start);
    const x = new ort.Tensor('float32', data.slice(start * nFeatures, (start + rows) * nFeatures), [rows, nFeatures]);
    const out = await session.run({ x, z }, fetches);
    const want = { code: [rows, latentDim], score: [rows], proba: [rows, nClasses] };
    for (const name of fetches) {
      if (out[name].dims.join() !== want[name].join())
        throw new Error(`output ${name} has shape [${out[name].dims}], expected [${want[name]}]`);
    }
    code.set(out.code.data, start * latentDim);
    score.set(out.score.data, start);
    if (classes) proba.set(out.proba.data, start * nClasses);
  }
  // flagged when score > biodae.threshold, strictly; the float32 score compared as a double with
  // the threshold as written (a double), as biodae.beats.score_beats does
  const flag = new Uint8Array(n);
  for (let i = 0; i < n; i++) flag[i] = score[i] > model.threshold ? 1 : 0;
  const result = { code, score, flag };
  if (classes) {
    result.proba = proba;
    result.classIndex = argmaxRows(proba, n, nClasses);
  }
  return result;
}

function writeF32(file, values, info) {
  const buf = Buffer.alloc(4 * values.length);
  for (let i = 0; i < values.length; i++) buf.writeFloatLE(values[i], 4 * i);
  fs.writeFileSync(file, buf);
  fs.writeFileSync(file.replace(/\.[^./]*$/, '') + '.json', JSON.stringify(info) + '\n');
}

async function main(argv) {
  const usage = 'usage: node latent.js [--batch ROWS] MODEL.onnx INPUT.f32 RESULT.json';
  let batch = BATCH;
  const args = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--batch') {
      batch = Number(argv[++i]);
      if (!Number.isInteger(batch) || batch < 1) throw new UsageError(`--batch ${argv[i]}: give a number of rows >= 1`);
    } else args.push(argv[i]);
  }
  if (args.length !== 3) throw new UsageError(usage);
  const [modelPath, inputPath, resultPath] = args;
  if (!resultPath.endsWith('.json')) throw new UsageError(`${resultPath}: the result is a .json file (${usage})`);
  const prefix = resultPath.slice(0, -'.json'.length);
  if (!fs.existsSync(modelPath)) throw new UsageError(`${modelPath}: no such file`);

  const bytes = fs.readFileSync(modelPath);
  const model = latentMetadata(bytes, modelPath);
  const { n, data } = readMatrix(inputPath, model.nFeatures, model.name);

  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  for (const name of ['x', 'z'])
    if (!session.inputNames.includes(name)) throw new UsageError(`${modelPath}: the graph has no input "${name}"`);
  for (const name of ['code', 'score', ...(model.classes ? ['proba'] : [])])
    if (!session.outputNames.includes(name)) throw new UsageError(`${modelPath}: the graph has no output "${name}"`);

  // The input standardisation (biodae.standardisation) is inside the graph: the rows go in as they are.
  const res = await runLatent(ort, session, model, data, n, batch);

  const base = prefix.split(/[\\/]/).pop();
  const files = { code: `${base}.code.f32`, score: `${base}.score.f32` };
  writeF32(`${prefix}.code.f32`, res.code, { shape: [n, model.latentDim], model: model.name, output: 'code' });
  writeF32(`${prefix}.score.f32`, res.score, { shape: [n], model: model.name, output: 'score' });
  const flagged = res.flag.reduce((a, b) => a + b, 0);
  const summary = {
    model: model.name,
    kind: model.kind,
    n_rows: n,
    n_features: model.nFeatures,
    latent_dim: model.latentDim,
    threshold: model.threshold,
    flag_rule: 'score > threshold',
    flagged,
    flag: Array.from(res.flag),
  };
  let classText = '';
  if (model.classes) {
    files.proba = `${base}.proba.f32`;
    writeF32(`${prefix}.proba.f32`, res.proba,
      { shape: [n, model.classes.length], model: model.name, output: 'proba', columns: model.classes });
    summary.classes = model.classes;
    summary.class_index = Array.from(res.classIndex);
    summary.class = summary.class_index.map((k) => model.classes[k]);
    const counts = new Map();
    for (const c of summary.class) counts.set(c, (counts.get(c) || 0) + 1);
    classText = '; classes ' + [...counts].map(([c, k]) => `${c} ${k}`).join(', ');
  }
  summary.files = files;
  fs.writeFileSync(resultPath, JSON.stringify(summary) + '\n');
  return `${model.name} (${model.kind}): ${n} row(s) of ${model.nFeatures} features -> codes of ${model.latentDim}; ` +
    `${flagged} flagged (score > ${model.thresholdText})${classText}; input standardisation: in the graph ` +
    '(none applied here)';
}

module.exports = { latentMetadata, readMatrix, runLatent, argmaxRows, BATCH };

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (msg) => console.log(msg),
    (err) => {
      console.error(`latent.js: error: ${err.message}`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
