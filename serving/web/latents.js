// keras_gen/latents.py and the draws of keras_gen/inputs.py, in the browser, so the page can
// interpolate between two seeds and still send TF Serving's plain `:predict` requests.
//
//   u_k = (hash32(hash32(k) + key) >> 8 + 0.5) / 2**24      key = hash32(seed), or
//                                                             hash32(hash32(seed) + stream) for stream > 0
//   z_i = sqrt(-2 ln u_{2i}) * cos(2 pi u_{2i+1})             (Box-Muller, float32 as numpy does it)
//
// The integer part is exact (Math.imul and >>> 0 are uint32 arithmetic); every float step is
// rounded to float32 with Math.fround, as numpy computes it, so values agree with numpy to ~1e-6
// (the same agreement as the TensorFlow copy). tests/serving/test_web_page.py checks both.
(function (root) {
  "use strict";
  const M1 = 0x7feb352d, M2 = 0x846ca68b;
  const f32 = Math.fround;
  const TWO_PI_F32 = f32(2 * Math.PI);

  function hash32(x) {  // "lowbias32": two multiply-xorshift rounds on uint32
    x = x >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    x = Math.imul(x, M1) >>> 0;
    x = (x ^ (x >>> 15)) >>> 0;
    x = Math.imul(x, M2) >>> 0;
    return (x ^ (x >>> 16)) >>> 0;
  }

  function uniforms(count, seed, stream) {  // float32 uniforms in (0, 1) of (seed, stream)
    let key = hash32(seed >>> 0);  // seeds are 32-bit: the low 32 bits, as latents.py keeps them
    if (stream) key = hash32((key + stream) >>> 0);
    const out = new Float32Array(count);
    for (let k = 0; k < count; k++) {
      const bits = hash32((hash32(k) + key) >>> 0);
      out[k] = f32((bits >>> 8) + 0.5) / 16777216;  // float32 add, then an exact division by 2**24
    }
    return out;
  }

  function gaussianLatents(n, dim, seed, stream = 0) {  // (n * dim) standard normals, row-major
    const u = uniforms(2 * n * dim, seed, stream);
    const z = new Float32Array(n * dim);
    for (let i = 0; i < n * dim; i++) {
      const radius = f32(Math.sqrt(f32(-2 * f32(Math.log(u[2 * i])))));
      z[i] = f32(radius * f32(Math.cos(f32(TWO_PI_F32 * u[2 * i + 1]))));
    }
    return z;
  }

  function uniformCodes(n, dim, seed, stream) {  // codes uniform in (-1, 1)
    return uniforms(n * dim, seed, stream).map((u) => f32(2 * u - 1));
  }

  function categoricalCodes(n, numClasses, seed, stream) {  // floor(u * K) as one float32 product
    return Int32Array.from(uniforms(n, seed, stream), (u) => Math.min(Math.trunc(f32(u * numClasses)), numClasses - 1));
  }

  function size(shape) {
    return shape.reduce((a, b) => a * b, 1);
  }

  function nest(flat, n, shape) {  // flat row-major values -> n nested arrays of `shape`
    let rows = Array.from(flat);
    for (const d of [...shape].reverse()) {
      const grouped = [];
      for (let i = 0; i < rows.length; i += d) grouped.push(rows.slice(i, i + d));
      rows = grouped;
    }
    return rows.length === n ? rows : rows.slice(0, n);
  }

  // One random input's values for (n, seed), as InputSpec.draw; `stream` from streams(specs).
  function draw(spec, n, seed, stream) {
    const shape = spec.shape || [];
    if (spec.kind === "latent") return nest(gaussianLatents(n, size(shape), seed, stream), n, shape);
    if (spec.distribution === "categorical") {
      return nest(categoricalCodes(n * size(shape), spec.num_classes, seed, stream), n, shape);
    }
    return nest(uniformCodes(n, shape[0], seed, stream), n, shape);
  }

  function streams(specs) {  // random inputs take streams 0, 1, ... in declaration order
    const out = {};
    let next = 0;
    for (const spec of specs) if (spec.kind === "latent" || spec.kind === "code") out[spec.name] = next++;
    return out;
  }

  // Spherical interpolation, as keras_gen.latents.slerp: float64 arithmetic, float32 results.
  function slerp(a, b, ts) {
    a = Array.from(a).flat(Infinity);
    b = Array.from(b).flat(Infinity);
    let dot = 0, na = 0, nb = 0;
    for (let i = 0; i < a.length; i++) {
      dot += a[i] * b[i];
      na += a[i] * a[i];
      nb += b[i] * b[i];
    }
    const cos = dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-12);
    const omega = Math.acos(Math.min(1, Math.max(-1, cos)));
    return ts.map((t) => a.map((x, i) => f32(omega < 1e-6
      ? (1 - t) * x + t * b[i]
      : (Math.sin((1 - t) * omega) * x + Math.sin(t * omega) * b[i]) / Math.sin(omega))));
  }

  function linspace(lo, hi, count) {  // as np.linspace: i * step + lo, the last one exactly hi
    if (count === 1) return [lo];
    const step = (hi - lo) / (count - 1);
    return Array.from({ length: count }, (_, i) => (i === count - 1 ? hi : i * step + lo));
  }

  root.kerasGenLatents = { hash32, uniforms, gaussianLatents, uniformCodes, categoricalCodes, draw, streams,
                           slerp, linspace, nest };
})(typeof window !== "undefined" ? window : globalThis);
