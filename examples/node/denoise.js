#!/usr/bin/env node
// Denoise a signal or an image with a biodae ONNX model, in Node.js, without Python.
//
//   node denoise.js MODEL.onnx INPUT.f32 OUTPUT.f32
//
// INPUT.f32 holds raw little-endian float32 values in C order; INPUT.json beside it
// (same name, extension .json) says what they are:
//
//   signal: {"shape": [n_channels, n_samples], "sampling_rate": 360, "units": "mV", "modality": "ecg"}
//   image:  {"shape": [height, width]}  or  {"shape": [n_slices, height, width], "modality": "mri"}
//
// ("units" and "modality" are optional; a one-channel signal may give [n_samples].)
// OUTPUT.f32 and OUTPUT.json are written the same way. Everything this program does is
// specified in docs/onnx.md (the contract); it reads the model's biodae.* metadata from
// the ONNX file itself, because onnxruntime-node does not expose custom metadata.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');

const BATCH_1D = 64; // windows per graph call (any value gives the same result)
const BATCH_2D = 8; // tiles per graph call

class UsageError extends Error {}

// ---------------------------------------------------------------------------
// ONNX protobuf: just enough to read metadata_props and the initializers
// (ModelProto.graph = 7, ModelProto.metadata_props = 14, GraphProto.initializer = 5,
//  TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9; StringStringEntryProto: key = 1, value = 2)

function readVarint(buf, pos) {
  let value = 0;
  let mul = 1;
  for (;;) {
    const byte = buf[pos++];
    value += (byte & 0x7f) * mul;
    if (byte < 0x80) return [value, pos];
    mul *= 128;
  }
}

// Yields [fieldNumber, wireType, value] where value is a number (varint / fixed) or a
// Buffer (length-delimited), for the message in buf.
function* fields(buf) {
  let pos = 0;
  while (pos < buf.length) {
    let key;
    [key, pos] = readVarint(buf, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      let v;
      [v, pos] = readVarint(buf, pos);
      yield [field, wire, v];
    } else if (wire === 2) {
      let len;
      [len, pos] = readVarint(buf, pos);
      yield [field, wire, buf.subarray(pos, pos + len)];
      pos += len;
    } else if (wire === 1) {
      pos += 8;
    } else if (wire === 5) {
      pos += 4;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}: not an ONNX file?`);
    }
  }
}

function readOnnx(buf) {
  const metadata = {};
  const initializers = [];
  for (const [field, wire, value] of fields(buf)) {
    if (field === 14 && wire === 2) {
      let key = '';
      let val = '';
      for (const [f, w, v] of fields(value)) {
        if (f === 1 && w === 2) key = v.toString('utf8');
        if (f === 2 && w === 2) val = v.toString('utf8');
      }
      metadata[key] = val;
    } else if (field === 7 && wire === 2) {
      for (const [f, w, v] of fields(value)) {
        if (f !== 5 || w !== 2) continue;
        const t = { name: '', dims: [], dataType: 0, raw: null };
        for (const [tf, tw, tv] of fields(v)) {
          if (tf === 1 && tw === 0) t.dims.push(tv);
          else if (tf === 1 && tw === 2) {
            for (let p = 0; p < tv.length; ) {
              let d;
              [d, p] = readVarint(tv, p);
              t.dims.push(d);
            }
          } else if (tf === 2 && tw === 0) t.dataType = tv;
          else if (tf === 8 && tw === 2) t.name = tv.toString('utf8');
          else if (tf === 9 && tw === 2) t.raw = tv;
        }
        initializers.push(t);
      }
    }
  }
  return { metadata, initializers };
}

// biodae.weights_sha256 (docs/onnx.md): initializers sorted by name; for each, the name
// (UTF-8), the dims as Python writes a tuple ("(16, 1, 5)", "(16,)", "()"), the raw bytes.
function weightsSha256(initializers) {
  const h = crypto.createHash('sha256');
  const sorted = [...initializers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const t of sorted) {
    if (t.raw === null) return null; // values stored in typed fields: not computed here
    h.update(Buffer.from(t.name, 'utf8'));
    h.update(t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(', ')})`);
    h.update(t.raw);
  }
  return h.digest('hex');
}

// ---------------------------------------------------------------------------
// Windowing (docs/onnx.md, "1D models: windows"; biodae/runtime/_windows.py)

// Raised-cosine taper: ones, with ramps of `overlap` samples at both ends that never reach 0.
function taper(n, overlap) {
  const w = new Float64Array(n).fill(1);
  for (let i = 0; i < overlap; i++) {
    const r = 0.5 - 0.5 * Math.cos((Math.PI * (i + 0.5)) / overlap);
    w[i] = r;
    w[n - 1 - i] = Math.min(w[n - 1 - i], r);
  }
  return w;
}

// Window start positions over `length` samples: 0, hop, 2 hop, ... and a last one ending at `length`.
function starts(length, window, hop) {
  if (length <= window) return [0];
  const s = [];
  for (let p = 0; p <= length - window; p += hop) s.push(p);
  if (s[s.length - 1] !== length - window) s.push(length - window);
  return s;
}

// x padded with `left` and `right` samples mirrored about the end samples (numpy "reflect",
// repeated when the pad is longer than the signal; a single sample is repeated).
function padReflect(x, left, right) {
  const n = x.length;
  const out = new Float64Array(n + left + right);
  const period = 2 * (n - 1);
  for (let i = 0; i < out.length; i++) {
    if (n === 1) {
      out[i] = x[0];
      continue;
    }
    let j = (i - left) % period;
    if (j < 0) j += period;
    out[i] = x[j < n ? j : period - j];
  }
  return out;
}

// Denoise one channel (Float64Array, in the model's units, at its rate) with windows of
// exactly `window` samples overlapping by `overlap`.
async function overlapAdd1d(run, x, window, overlap) {
  const n = x.length;
  if (n === 0) return new Float64Array(0);
  if (n <= window) {
    const left = Math.floor((window - n) / 2);
    const out = await run([padReflect(x, left, window - n - left)], window);
    return Float64Array.from(out[0].subarray(left, left + n));
  }
  const pad = Math.min(overlap, n - 1);
  const xp = padReflect(x, pad, pad);
  const s = starts(xp.length, window, window - overlap);
  const w = taper(window, overlap);
  const acc = new Float64Array(xp.length);
  const wsum = new Float64Array(xp.length);
  for (let b = 0; b < s.length; b += BATCH_1D) {
    const chunk = s.slice(b, b + BATCH_1D);
    const outs = await run(chunk.map((p) => xp.subarray(p, p + window)), window);
    chunk.forEach((p, k) => {
      for (let i = 0; i < window; i++) {
        acc[p + i] += outs[k][i] * w[i];
        wsum[p + i] += w[i];
      }
    });
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) y[i] = acc[pad + i] / wsum[pad + i];
  return y;
}

// ---------------------------------------------------------------------------
// Images (docs/onnx.md, "2D models"; biodae/runtime/_images.py and tile_2d)

// numpy.percentile, linear interpolation, of a sorted Float64Array.
function percentile(sorted, q) {
  const h = ((sorted.length - 1) * q) / 100;
  const i = Math.floor(h);
  const t = h - i;
  const a = sorted[i];
  const b = sorted[Math.min(i + 1, sorted.length - 1)];
  const d = b - a;
  return t >= 0.5 ? b - d * (1 - t) : a + d * t;
}

// (lo, hi): the percentiles of the finite values of the whole image or volume, taken with
// a stride of ceil(size / 2e6) over the flat C-order array; hi = lo + 1 if they are equal.
// Zero-filled regions (at least 9 exact zeros connected in the image or volume, 26-connectivity
// across the slices of a volume: masked or skull-stripped data) stay exactly 0 (docs/onnx.md, step 5).
const ZERO_FILL_MIN = 9;

function zeroFilled(input, output, n, h, w) {
  const seen = new Uint8Array(n * h * w);
  const stack = [];
  const region = [];
  for (let start = 0; start < n * h * w; start++) {
    if (seen[start] || input[start] !== 0) continue;
    seen[start] = 1;
    stack.push(start);
    region.length = 0;
    while (stack.length) {
      const i = stack.pop();
      region.push(i);
      const s = Math.floor(i / (h * w));
      const r = Math.floor((i - s * h * w) / w);
      const c = i - s * h * w - r * w;
      for (let ds = -1; ds <= 1; ds++) {
        for (let dr = -1; dr <= 1; dr++) {
          for (let dc = -1; dc <= 1; dc++) {
            const ss = s + ds;
            const rr = r + dr;
            const cc = c + dc;
            if (ss < 0 || ss >= n || rr < 0 || rr >= h || cc < 0 || cc >= w) continue;
            const j = (ss * h + rr) * w + cc;
            if (!seen[j] && input[j] === 0) {
              seen[j] = 1;
              stack.push(j);
            }
          }
        }
      }
    }
    if (region.length >= ZERO_FILL_MIN) for (const i of region) output[i] = 0;
  }
}

function intensityRange(values, percentiles) {
  const step = Math.ceil(values.length / 2e6);
  const v = [];
  for (let i = 0; i < values.length; i += step) if (Number.isFinite(values[i])) v.push(values[i]);
  if (v.length === 0) throw new UsageError('the image holds no finite value');
  const sorted = Float64Array.from(v).sort();
  const lo = percentile(sorted, percentiles[0]);
  let hi = percentile(sorted, percentiles[1]);
  if (!(hi > lo)) hi = lo + 1;
  return [lo, hi];
}

// One slice (Float32Array h*w, scaled to [0, 1]) through the model, tiled if larger than `tile`.
async function tile2d(run, img, h, w, tile, overlap) {
  if (h <= tile && w <= tile) return (await run([img], [h, w]))[0];
  const th = Math.min(tile, h);
  const tw = Math.min(tile, w);
  const ys = starts(h, th, th === tile ? th - overlap : th);
  const xs = starts(w, tw, tw === tile ? tw - overlap : tw);
  const wy = taper(th, th === tile && h > tile ? overlap : 0);
  const wx = taper(tw, tw === tile && w > tile ? overlap : 0);
  const acc = new Float64Array(h * w);
  const wsum = new Float64Array(h * w);
  const coords = [];
  for (const y of ys) for (const x of xs) coords.push([y, x]);
  for (let b = 0; b < coords.length; b += BATCH_2D) {
    const chunk = coords.slice(b, b + BATCH_2D);
    const tiles = chunk.map(([y0, x0]) => {
      const t = new Float32Array(th * tw);
      for (let i = 0; i < th; i++) t.set(img.subarray((y0 + i) * w + x0, (y0 + i) * w + x0 + tw), i * tw);
      return t;
    });
    const outs = await run(tiles, [th, tw]);
    chunk.forEach(([y0, x0], k) => {
      for (let i = 0; i < th; i++) {
        for (let j = 0; j < tw; j++) {
          const wt = wy[i] * wx[j];
          acc[(y0 + i) * w + x0 + j] += outs[k][i * tw + j] * wt;
          wsum[(y0 + i) * w + x0 + j] += wt;
        }
      }
    });
  }
  const out = new Float32Array(h * w);
  for (let i = 0; i < out.length; i++) out[i] = acc[i] / wsum[i];
  return out;
}

// ---------------------------------------------------------------------------

const VOLTS = { v: 1, mv: 1e-3, uv: 1e-6, 'µv': 1e-6, 'μv': 1e-6, nv: 1e-9 };

function unitFactor(from, to) {
  const a = VOLTS[from.trim().toLowerCase()];
  const b = VOLTS[to.trim().toLowerCase()];
  return a === undefined || b === undefined ? null : a / b;
}

function readInput(file) {
  const sidecar = file.replace(/\.[^./]*$/, '') + '.json';
  if (!fs.existsSync(file)) throw new UsageError(`${file}: no such file`);
  if (!fs.existsSync(sidecar)) throw new UsageError(`${sidecar}: no such file (it gives the input's shape)`);
  const info = JSON.parse(fs.readFileSync(sidecar, 'utf8'));
  const buf = fs.readFileSync(file);
  const shape = info.shape;
  if (!Array.isArray(shape) || shape.length < 1 || shape.length > 3 || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new UsageError(`${sidecar}: "shape" must be a list of 1 to 3 sizes`);
  const size = shape.reduce((a, b) => a * b, 1);
  if (buf.length !== 4 * size)
    throw new UsageError(`${file}: ${buf.length} bytes, but shape [${shape}] needs ${4 * size} (float32)`);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) data[i] = buf.readFloatLE(4 * i);
  return { info, data };
}

function writeOutput(file, data, info) {
  const buf = Buffer.alloc(4 * data.length);
  for (let i = 0; i < data.length; i++) buf.writeFloatLE(data[i], 4 * i);
  fs.writeFileSync(file, buf);
  fs.writeFileSync(file.replace(/\.[^./]*$/, '') + '.json', JSON.stringify(info, null, 1) + '\n');
}

async function main(argv) {
  if (argv.length !== 3) throw new UsageError('usage: node denoise.js MODEL.onnx INPUT.f32 OUTPUT.f32');
  const [modelPath, inputPath, outputPath] = argv;
  const ort = require('onnxruntime-node');

  const bytes = fs.readFileSync(modelPath);
  const { metadata: meta, initializers } = readOnnx(bytes);
  if (!meta['biodae.name']) throw new UsageError(`${modelPath}: not a biodae model (no biodae.* metadata)`);
  if (meta['biodae.task'] === 'latent')
    throw new UsageError(`${modelPath}: a biodae latent model (${meta['biodae.name']}), not a denoiser: run it with latent.js`);
  if (meta['biodae.schema_version'] !== '1')
    throw new UsageError(`${modelPath}: contract version ${meta['biodae.schema_version']}; this client reads version 1`);
  const digest = weightsSha256(initializers);
  if (meta['biodae.weights_sha256'] && digest !== null && digest !== meta['biodae.weights_sha256'])
    throw new UsageError(`${modelPath}: the weights do not match biodae.weights_sha256 (corrupt or modified file)`);

  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  const [inName] = session.inputNames;
  const [outName] = session.outputNames;
  const rank = session.inputMetadata ? session.inputMetadata[0].shape.length : meta['biodae.sampling_rate'] ? 3 : 4;
  const name = `${meta['biodae.name']} ${meta['biodae.version'] || ''}`.trim();
  const modality = meta['biodae.modality'] || '';

  // run a list of equally long windows / equally sized tiles as one batch
  const run = async (items, size) => {
    const dims = Array.isArray(size) ? [items.length, 1, ...size] : [items.length, 1, size];
    const per = dims.slice(2).reduce((a, b) => a * b, 1);
    const batch = new Float32Array(items.length * per);
    items.forEach((it, k) => batch.set(it, k * per));
    const result = await session.run({ [inName]: new ort.Tensor('float32', batch, dims) });
    const out = result[outName].data;
    return items.map((_, k) => out.subarray(k * per, (k + 1) * per));
  };

  const { info, data } = readInput(inputPath);
  const isSignal = info.sampling_rate !== undefined;
  if (info.modality && modality && info.modality !== modality)
    throw new UsageError(`model ${name} is for ${modality.toUpperCase()}; the input is ${String(info.modality).toUpperCase()}`);

  if (rank === 3) {
    if (!isSignal)
      throw new UsageError(`model ${name} is a signal model (${modality.toUpperCase()}, ${meta['biodae.sampling_rate']} Hz); ` +
        'the input has no "sampling_rate": it is not a signal');
    const rate = Number(meta['biodae.sampling_rate']);
    if (Number(info.sampling_rate) !== rate)
      throw new UsageError(`model ${name} was trained at ${rate} Hz and the input is at ${info.sampling_rate} Hz: ` +
        `resample it to ${rate} Hz first (this client does not resample)`);
    let scale = 1;
    const units = meta['biodae.units'] || '';
    if (info.units && units && info.units.trim().toLowerCase() !== units.trim().toLowerCase()) {
      const f = unitFactor(info.units, units);
      if (f === null) throw new UsageError(`cannot convert ${info.units} to the model's unit ${units}`);
      scale = f;
    }
    const [channels, n] = info.shape.length === 1 ? [1, info.shape[0]] : info.shape;
    if (info.shape.length > 2) throw new UsageError(`a signal has shape [n_channels, n_samples]; got [${info.shape}]`);
    const window = Number(meta['biodae.window'] || 0) || n;
    const overlap = Math.min(Number(meta['biodae.overlap'] || 0), Math.max(window - 1, 0));
    const out = new Float32Array(channels * n);
    for (let c = 0; c < channels; c++) {
      const x = new Float64Array(n);
      for (let i = 0; i < n; i++) x[i] = data[c * n + i] * scale;
      const y = await overlapAdd1d(run, x, window, overlap);
      for (let i = 0; i < n; i++) out[c * n + i] = y[i] / scale;
    }
    writeOutput(outputPath, out, { ...info, model: name });
    return `${name}: ${channels} channel(s) of ${n} samples at ${rate} Hz, windows of ${window} (overlap ${overlap})`;
  }

  if (isSignal) throw new UsageError(`model ${name} is an image model (${modality.toUpperCase()}); the input is a signal`);
  if (info.shape.length < 2) throw new UsageError(`an image has shape [height, width] or [n_slices, height, width]`);
  const [slices, h, w] = info.shape.length === 2 ? [1, ...info.shape] : info.shape;
  const pct = (meta['biodae.percentiles'] || '0.5,99.5').split(',').map(Number);
  const [lo, hi] = intensityRange(data, pct);
  const lo32 = Math.fround(lo);
  const scale32 = Math.fround(hi - lo);
  let min = Infinity;
  let max = -Infinity;
  for (const v of data) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const tile = Number(meta['biodae.tile'] || 0) || Math.max(h, w);
  const overlap = Math.min(Number(meta['biodae.overlap'] || 0), tile - 1);
  const out = new Float32Array(slices * h * w);
  for (let s = 0; s < slices; s++) {
    const img = new Float32Array(h * w);
    for (let i = 0; i < h * w; i++) img[i] = Math.fround(data[s * h * w + i] - lo32) / scale32;
    const y = await tile2d(run, img, h, w, tile, overlap);
    for (let i = 0; i < h * w; i++) {
      const v = Math.fround(Math.fround(y[i] * scale32) + lo32);
      out[s * h * w + i] = Math.min(Math.max(v, min), max);
    }
  }
  zeroFilled(data, out, slices, h, w);
  writeOutput(outputPath, out, { ...info, model: name });
  return `${name}: ${slices} slice(s) of ${h} x ${w}, intensities ${lo.toPrecision(6)}..${hi.toPrecision(6)} -> 0..1, ` +
    `tiles of ${tile} (overlap ${overlap})`;
}

module.exports = { readOnnx, weightsSha256, taper, starts, padReflect, overlapAdd1d, intensityRange, tile2d };

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (msg) => console.log(msg),
    (err) => {
      console.error(`denoise.js: error: ${err.message}`);
      process.exit(err instanceof UsageError ? 2 : 1);
    },
  );
}
