// Part of the /go page's script: bot/form/page.py joins web/form/*.js, in its SCRIPT_PARTS order, into
// one function body, so every part sees the others' names.
//
// One renderer per task, the form's half of a task (its input format is in inference/tasks.py, its Slack
// renderer in bot/slack/answers.py): task name -> (result, input, upload) -> the nodes that show the answer.
// ``upload`` is the file the run sent ({file, kind}) for a task that reads one, else null.

const percent = (score) => `${(Number(score) * 100).toFixed(1)}%`;

/** Ranked bars; ``items`` are {label, score} with scores from 0 to 1 (or -1 to 1). */
function bars(items, format = percent) {
  const sorted = [...(items || [])].sort((a, b) => b.score - a.score);
  const list = el("ol", "bars");
  sorted.forEach((item, index) => {
    const fill = el("span", "bar-fill");
    fill.style.width = `${Math.max(0, Math.min(1, Number(item.score))) * 100}%`;
    const track = el("span", "bar-track", fill);
    track.setAttribute("aria-hidden", "true");
    list.append(el("li", index === 0 ? "bar-row top" : "bar-row",
      el("span", "bar-label", String(item.label)), track, el("span", "bar-value", format(item.score))));
  });
  return list;
}

/** ``text`` with [start, end) spans (code point offsets, as Python counts) wrapped in <mark>. */
function highlighted(text, spans) {
  const chars = Array.from(text);
  const out = el("p", "passage");
  let at = 0;
  for (const span of [...spans].sort((a, b) => a.start - b.start)) {
    if (!(span.start >= at && span.end > span.start && span.end <= chars.length)) continue;
    out.append(chars.slice(at, span.start).join(""));
    const mark = el("mark", span.className || "", chars.slice(span.start, span.end).join(""));
    if (span.label) mark.append(el("span", "ent-label", span.label));
    out.append(mark);
    at = span.end;
  }
  out.append(chars.slice(at).join(""));
  return out;
}

/** Where ``answer`` sits in ``context``: the model's offsets if they match, else its first occurrence. */
function locate(context, answer, start, end) {
  const chars = Array.from(context);
  if (Number.isInteger(start) && Number.isInteger(end) && chars.slice(start, end).join("").trim() === answer.trim()) {
    return { start, end };
  }
  const index = answer ? context.indexOf(answer) : -1;
  if (index < 0) return null;
  const from = Array.from(context.slice(0, index)).length;
  return { start: from, end: from + Array.from(answer).length };
}

const labelColours = new Map();
function colourFor(label) {
  if (!labelColours.has(label)) labelColours.set(label, `c${(labelColours.size % 5) + 1}`);
  return labelColours.get(label);
}

/** Seconds as a clock reads them: "0:30", "12:05", "1:02:03". */
function clock(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  const [h, m, s] = [Math.floor(total / 3600), Math.floor(total / 60) % 60, total % 60];
  const ss = String(s).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** The transcript, one line per chunk with its times ("0:00–0:30"). */
function transcript(r) {
  const chunks = (r.chunks || []).filter((c) => String(c.text || "").trim());
  if (!chunks.length) return el("p", "prose", String(r.text || "").trim() || "No speech was found in this recording.");
  const list = el("ol", "transcript");
  for (const chunk of chunks) {
    list.append(el("li", "", el("span", "time", `${clock(chunk.start)}–${clock(chunk.end)}`),
      el("span", "said", String(chunk.text).trim())));
  }
  return list;
}

// The image the last detection answer shows: one object URL at a time, let go when the next answer comes.
let detectedUrl = null;
const fraction = (value, whole) => Math.max(0, Math.min(1, Number(value) / whole));

/**
 * The uploaded image with a box around each object, placed in percentages of the result's
 * ``width`` and ``height`` (the image's pixels), so the boxes follow the image at any displayed size.
 */
function boxedImage(r, file) {
  if (detectedUrl) URL.revokeObjectURL(detectedUrl);
  detectedUrl = URL.createObjectURL(file);
  const objects = r.objects || [];
  const image = el("img", "");
  image.src = detectedUrl;
  image.alt = `The image, with ${objects.length} object${objects.length === 1 ? "" : "s"} boxed`;
  const frame = el("div", "boxed", image);
  const [width, height] = [Number(r.width), Number(r.height)];
  if (!(width > 0 && height > 0)) return frame;
  for (const o of objects) {
    const b = o.box || {};
    const box = el("span", `box ${colourFor(o.label)}`, el("span", "box-label", `${o.label} ${percent(o.score)}`));
    box.setAttribute("aria-hidden", "true");
    box.style.left = `${fraction(b.xmin, width) * 100}%`;
    box.style.top = `${fraction(b.ymin, height) * 100}%`;
    box.style.width = `${(fraction(b.xmax, width) - fraction(b.xmin, width)) * 100}%`;
    box.style.height = `${(fraction(b.ymax, height) - fraction(b.ymin, height)) * 100}%`;
    if (fraction(b.ymin, height) < 0.06) box.classList.add("inside");  // no room above: the label goes inside
    frame.append(box);
  }
  return frame;
}

function objectList(r) {
  const objects = r.objects || [];
  if (!objects.length) return el("p", "muted", "No objects were found in this image.");
  const list = el("ul", "entity-list");
  for (const o of objects) {
    const b = o.box || {};
    const where = [b.xmin, b.ymin, b.xmax, b.ymax].map((v) => Math.round(Number(v)));
    list.append(el("li", "", el("mark", colourFor(o.label), String(o.label)),
      ` ${percent(o.score)} `, el("span", "muted", `at (${where[0]}, ${where[1]})–(${where[2]}, ${where[3]})`)));
  }
  return list;
}

// The table of renderers, keyed by the task names of inference/tasks.py. tests/bot/form/test_page.py reads
// its keys from this file and fails when a task has none: write each entry as a line `  "task-name": ...`.
const renderers = {
  "text-classification": (r) => [bars(r.labels)],
  "zero-shot-classification": (r) => [bars(r.labels)],
  "fill-mask": (r) => {
    const predictions = r.predictions || [];
    return [
      predictions.length ? el("p", "prose", predictions[0].sequence) : el("p", "muted", "No predictions."),
      bars(predictions.map((p) => ({ label: String(p.token).trim(), score: p.score }))),
    ];
  },
  "token-classification": (r, input) => {
    const entities = r.entities || [];
    if (!entities.length) return [el("p", "muted", "No entities found in this text.")];
    const spans = entities.map((e) => ({ start: e.start, end: e.end, label: e.label, className: colourFor(e.label) }));
    const list = el("ul", "entity-list");
    for (const e of entities) list.append(el("li", "", `${e.word} — ${e.label} (${percent(e.score)})`));
    return [highlighted(input, spans), list];
  },
  "question-answering": (r, input) => {
    const context = input.includes("|") ? input.slice(input.indexOf("|") + 1).trim() : input;
    const span = locate(context, String(r.answer || ""), r.start, r.end);
    return [
      el("p", "big", r.answer || "(no answer found)"),
      el("p", "muted", `Confidence ${percent(r.score)}`),
      span ? el("p", "muted", "In context:") : null,
      span ? highlighted(context, [span]) : null,
    ];
  },
  "sentence-similarity": (r) => [
    el("p", "", el("span", "muted", "Compared with: "), r.source),
    bars((r.scores || []).map((s) => ({ label: s.sentence, score: s.score })), (s) => Number(s).toFixed(3)),
  ],
  "summarization": (r) => [
    el("p", "prose", r.summary),
    r.chunks > 1 ? el("p", "note", `The text was summarized in ${r.chunks} parts, then combined.`) : null,
  ],
  "translation": (r) => [el("p", "prose", r.translation)],
  "text-generation": (r) => [el("p", "prose", r.text)],
  "feature-extraction": (r) => {
    const values = (r.embedding || []).slice(0, 8).map((v) => Number(v).toFixed(4));
    return [
      el("p", "big", `${r.dimensions} dimensions`),
      el("p", "muted", "First values:"),
      el("p", "values", `[${values.join(", ")}${(r.embedding || []).length > 8 ? ", …" : ""}]`),
    ];
  },
  "image-classification": (r) => [bars(r.labels)],
  "zero-shot-image-classification": (r) => [bars(r.labels)],
  "object-detection": (r, input, upload) => [
    upload && upload.file ? boxedImage(r, upload.file) : null,
    objectList(r),
  ],
  "image-to-text": (r) => [el("p", "big", String(r.caption || "").trim() || "(no caption)")],
  "automatic-speech-recognition": (r) => [
    transcript(r),
    Number(r.duration) > 0 ? el("p", "muted", `${clock(r.duration)} of audio`) : null,
  ],
};
