// Part of the /go page's script: bot/form/page.py joins web/form/*.js, in its SCRIPT_PARTS order, into
// one function body, so every part sees the others' names.
//
// An answer as a card: its task's renderer (renderers.js), then the notes, the timings and the
// feedback area.

function timings(body, roundTripMs) {
  const t = body.timings || {};
  const parts = [];
  if (t.load_ms > 0) parts.push(`model loaded in ${Math.round(t.load_ms).toLocaleString()} ms`);
  if (t.inference_ms !== undefined) parts.push(`answered in ${Math.round(t.inference_ms).toLocaleString()} ms`);
  parts.push(roundTripMs < 1000 ? `round trip ${Math.round(roundTripMs)} ms` : `round trip ${(roundTripMs / 1000).toFixed(1)} s`);
  if (body.request_id) parts.push(`request ${body.request_id}`);
  return el("p", "meta", ...parts.map((p) => el("span", "", p)));
}

/** The answer's card; ``upload`` is the file the run sent ({file, kind}), which some renderers draw on. */
function renderAnswer(body, input, roundTripMs, extraClass = "", upload = null) {
  const result = body.result || {};
  const render = renderers[body.task];
  const content = render ? render(result, input, upload) : [el("pre", "values", JSON.stringify(result, null, 2))];
  return el("article", `card result ${extraClass}`.trim(),
    el("div", "result-head", el("h3", "", body.title || body.model), el("span", "tag", body.task)),
    ...content,
    result.truncated ? el("p", "note", "The text was longer than this model reads at once, so only its beginning was used.") : null,
    timings(body, roundTripMs),
    body.feedback ? feedbackArea(body) : null);
}

/**
 * The text a model has written so far, in the answer's place while one model runs (a comparison's
 * columns wait for their whole answers). The answer replaces it when it comes.
 */
function showPartial(model, text) {
  if (document.getElementById("mode-compare") && document.getElementById("mode-compare").checked) return;
  const card = el("article", "card result partial",
    el("div", "result-head", el("h3", "", model.title || model.name), el("span", "tag", model.task)),
    el("p", "prose", text),
    el("p", "meta", el("span", "", "still writing…")));
  $("result").replaceChildren(card);
}
