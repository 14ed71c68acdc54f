// The edge server's page: every action is a TF Serving REST call (status, metadata, :predict),
// the inputs offered are the ones the model's metadata declares (keras_gen.inputs kinds), and
// any {"error": ...} the server answers is shown as it is.
(function () {
  "use strict";
  const L = window.kerasGenLatents;
  const $ = (id) => document.getElementById(id);
  const state = { model: null, version: null, meta: null, image: {}, reading: Promise.resolve() };

  // -- talking to the server -----------------------------------------------------------------
  async function call(method, path, body) {
    const init = { method, headers: {} };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
      $("last-request").textContent = `${method} ${path}\n${init.body.slice(0, 600)}${init.body.length > 600 ? " ..." : ""}`;
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (err) {
      throw new Error(`the server did not answer: ${err.message}`);
    }
    const text = await response.text();
    let data;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new Error(`${response.status}: ${text.slice(0, 300) || "an empty answer"}`);
    }
    if (!response.ok) throw new Error(`${response.status}: ${data.error || text.slice(0, 300)}`);
    return data;
  }

  function showError(err) {
    $("error").textContent = err ? String(err.message || err) : "";
    $("error").hidden = !err;
  }

  async function busy(button, work) {
    button.disabled = true;
    try {
      showError(null);
      await work();
    } catch (err) {
      showError(err);
    } finally {
      button.disabled = false;
    }
  }

  // -- models and versions -------------------------------------------------------------------
  async function loadModels() {
    const { models } = await call("GET", "/v1/models");
    const select = $("model");
    const previous = select.value;
    select.replaceChildren(...models.map((m) => new Option(m.name, m.name)));
    if (!models.length) throw new Error("this server has no models (is EXPORTS empty?)");
    if (models.some((m) => m.name === previous)) select.value = previous;
    await pickModel(select.value, models.find((m) => m.name === select.value));
  }

  async function pickModel(name, status) {
    state.model = name;
    status = status || await call("GET", `/v1/models/${encodeURIComponent(name)}`);
    const versions = status.model_version_status;
    const available = versions.filter((v) => v.state === "AVAILABLE");
    $("version").replaceChildren(...available.map((v) => new Option(v.version, v.version)));
    $("failures").replaceChildren(...versions.filter((v) => v.state !== "AVAILABLE").map((v) => {
      const item = document.createElement("li");
      item.textContent = `version ${v.version} is not served: ${v.status.error_message}`;
      return item;
    }));
    if (!available.length) throw new Error(`${name} has no version serving yet`);
    await pickVersion(available[0].version);
  }

  async function pickVersion(version) {
    state.version = version;
    state.image = {};
    $("grid").replaceChildren();
    $("path").replaceChildren();
    const path = `/v1/models/${encodeURIComponent(state.model)}/versions/${version}/metadata`;
    state.meta = (await call("GET", path)).keras_gen;
    const shape = state.meta.image_shape.join("×");
    $("model-info").textContent = `${state.meta.model}, version ${version}: ${shape} images; endpoints ` +
      Object.keys(state.meta.signatures).sort().join(", ");
    buildFields(conditionSpecs());
    const latent = (state.meta.signatures.serving_default || []).find((s) => s.kind === "latent");
    $("interpolate-section").hidden = !latent;
  }

  function conditionSpecs() {  // the sample endpoint's inputs after n and seed
    return (state.meta.signatures.sample || []).filter((s) => s.name !== "n" && s.name !== "seed");
  }

  // -- the inputs a model declares -------------------------------------------------------------
  function buildFields(specs) {
    const fields = $("fields");
    fields.replaceChildren();
    for (const spec of specs) {
      const row = document.createElement("div");
      row.className = "field";
      const label = document.createElement("label");
      label.append(spec.name);
      let control;
      const note = document.createElement("span");
      note.className = "muted";
      note.textContent = spec.description || "";
      if (spec.kind === "label" || (spec.kind === "code" && spec.distribution === "categorical" && !spec.shape.length)) {
        control = document.createElement("select");
        control.append(new Option(spec.kind === "label" ? "every class in turn" : "drawn from the seed", ""));
        for (let k = 0; k < spec.num_classes; k++) control.append(new Option(String(k), String(k)));
      } else if (spec.kind === "option" && spec.choices) {
        control = document.createElement("select");
        spec.choices.forEach((name, i) => control.append(new Option(name, String(i))));
        control.value = String(spec.default);
      } else if (spec.kind === "option") {
        control = document.createElement("input");
        control.type = "number";
        control.min = spec.range[0];
        control.max = spec.range[1];
        control.step = spec.dtype.startsWith("int") ? "1" : "any";
        control.value = spec.default;
      } else if (spec.kind === "image") {
        control = document.createElement("input");
        control.type = "file";
        control.accept = "image/png,image/jpeg";
        control.addEventListener("change", () => {
          state.reading = readUpload(spec, control.files[0]).catch(showError);
        });
        const [h, w, c] = spec.shape;
        note.textContent = `PNG or JPEG` + (h && w ? `, fitted to ${w}×${h}` : "") + (c ? `, ${c === 1 ? "grey" : "RGB"}` : "");
      } else {  // a uniform code or a code map: drawn from the seed
        control = document.createElement("span");
        control.textContent = "drawn from the seed";
      }
      control.id = `input-${spec.name}`;
      label.append(control);
      row.append(label, note);
      fields.append(row);
    }
    $("inputs-section").hidden = !specs.length;
  }

  // An upload as uint8 pixels, fitted to the declared size (a side declared as any size keeps the
  // picture's own): the numbers TF Serving and the edge server both take ({"b64": ...} is for
  // string inputs there). A file the browser cannot read as a picture is refused here.
  async function readUpload(spec, file) {
    showError(null);
    delete state.image[spec.name];
    if (!file) return;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file);
    } catch (err) {  // said now, and again by a request that would need it
      state.image[spec.name] = new Error(`${file.name}: not a PNG or JPEG image this browser can read`);
      throw state.image[spec.name];
    }
    const [h = bitmap.height, w = bitmap.width, c = 3] = spec.shape.map((d) => d || undefined);
    const canvas = new OffscreenCanvas(w, h);
    const context = canvas.getContext("2d");
    context.drawImage(bitmap, 0, 0, w, h);
    const rgba = context.getImageData(0, 0, w, h).data;
    const rows = [];
    for (let y = 0; y < h; y++) {
      const row = [];
      for (let x = 0; x < w; x++) {
        const p = 4 * (y * w + x);
        row.push(c === 1 ? [Math.round(0.299 * rgba[p] + 0.587 * rgba[p + 1] + 0.114 * rgba[p + 2])]
                         : [rgba[p], rgba[p + 1], rgba[p + 2]]);
      }
      rows.push(row);
    }
    state.image[spec.name] = rows;
  }

  function conditionValue(spec) {  // the value a field holds, or undefined for "the default"
    const control = $(`input-${spec.name}`);
    if (spec.kind === "image") {
      if (!(spec.name in state.image)) throw new Error(`choose an image for ${spec.name}`);
      if (state.image[spec.name] instanceof Error) throw state.image[spec.name];
      return state.image[spec.name];
    }
    if (!control || control.tagName === "SPAN" || control.value === "") return undefined;
    return Number(control.value);
  }

  // What `sample` is sent for an input: servers take every input a signature declares, so a
  // field left at its default sends the default the metadata declares: an option's value, every
  // class in turn (the list cycles to n), or an empty code (drawn from the seed).
  function sampleValue(spec) {
    const value = conditionValue(spec);
    if (value !== undefined) return spec.kind === "option" ? value : [value];  // one row: it cycles to n
    if (spec.kind === "option") return spec.default;
    if (spec.kind === "label") return Array.from({ length: spec.num_classes }, (_, k) => k);
    return [];  // a code: drawn from the seed
  }

  // -- predict -------------------------------------------------------------------------------
  function predictPath() {
    return `/v1/models/${encodeURIComponent(state.model)}/versions/${state.version}:predict`;
  }

  function imagesOf(data) {
    const out = data.outputs;
    return Array.isArray(out) ? out : (out.images || Object.values(out).find((v) => Array.isArray(v)));
  }

  function draw(target, images) {
    target.replaceChildren(...images.map((image) => {
      const h = image.length, w = image[0].length, c = image[0][0].length;
      const canvas = document.createElement("canvas");
      canvas.width = w;
      canvas.height = h;
      const context = canvas.getContext("2d");
      const pixels = context.createImageData(w, h);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const v = image[y][x], p = 4 * (y * w + x);
          pixels.data[p] = v[0];
          pixels.data[p + 1] = v[c === 1 ? 0 : 1];
          pixels.data[p + 2] = v[c === 1 ? 0 : 2];
          pixels.data[p + 3] = 255;
        }
      }
      context.putImageData(pixels, 0, 0);
      return canvas;
    }));
  }

  function seedOf(id) {
    const value = Number($(id).value);
    if (!Number.isInteger(value) || value < 0 || value > 4294967295) {
      throw new Error(`${id.replace("-", " ")} must be a whole number from 0 to 4294967295`);
    }
    return value;
  }

  async function sample() {
    $("grid").replaceChildren();  // no old grid beside a new request's error
    await state.reading;  // an upload still being read
    const inputs = { n: Number($("n").value), seed: seedOf("seed") };
    for (const spec of conditionSpecs()) inputs[spec.name] = sampleValue(spec);
    draw($("grid"), imagesOf(await call("POST", predictPath(), { signature_name: "sample", inputs })));
  }

  // serving_default with every input given: the first latent slerped from seed A to seed B,
  // everything else as seed A draws it (or as the fields set it), repeated along the path.
  async function interpolate() {
    $("path").replaceChildren();
    await state.reading;
    const specs = state.meta.signatures.serving_default;
    const steps = Number($("path-steps").value);
    if (!Number.isInteger(steps) || steps < 2 || steps > 32) throw new Error("steps must be a whole number from 2 to 32");
    const [a, b] = [seedOf("seed-a"), seedOf("seed-b")];
    const stream = L.streams(specs);
    const latent = specs.find((s) => s.kind === "latent");
    const inputs = {};
    for (const spec of specs) {
      if (spec === latent) {
        const za = L.draw(spec, 1, a, stream[spec.name])[0], zb = L.draw(spec, 1, b, stream[spec.name])[0];
        inputs[spec.name] = L.slerp(za, zb, L.linspace(0, 1, steps)).map((z) => L.nest(z, 1, spec.shape)[0]);
        continue;
      }
      const field = conditionSpecs().find((s) => s.name === spec.name);
      let value = field && spec.kind !== "latent" ? conditionValue(spec) : undefined;
      if (spec.kind === "option") {
        inputs[spec.name] = value === undefined ? spec.default : value;
        continue;
      }
      if (value === undefined && (spec.kind === "latent" || spec.kind === "code")) {
        value = L.draw(spec, 1, a, stream[spec.name])[0];
      } else if (value === undefined && spec.kind === "label") {
        value = 0;  // what sample(n=1) uses: every class in turn starts at 0
      }
      inputs[spec.name] = Array.from({ length: steps }, () => value);
    }
    const body = { signature_name: "serving_default", inputs };
    draw($("path"), imagesOf(await call("POST", predictPath(), body)));
  }

  // -- wiring --------------------------------------------------------------------------------
  $("model").addEventListener("change", () => busy($("model"), () => pickModel($("model").value)));
  $("version").addEventListener("change", () => busy($("version"), () => pickVersion($("version").value)));
  $("refresh").addEventListener("click", () => busy($("refresh"), loadModels));
  $("sample").addEventListener("click", () => busy($("sample"), sample));
  $("interpolate").addEventListener("click", () => busy($("interpolate"), interpolate));
  busy($("refresh"), loadModels).then(() => { document.body.dataset.ready = "true"; });
})();
