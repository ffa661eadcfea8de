// Part of the /go page's script: bot/form/page.py joins web/form/*.js, in its SCRIPT_PARTS order, into
// one function body, so every part sees the others' names.
//
// One renderer per task, the form's half of a task (its input format is in inference/tasks.py, its Slack
// renderer in bot/slack/answers.py): task name -> (result, input) -> the nodes that show the answer.

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
};
