"use strict";
// The /go page: picks a model, posts the text as JSON, and renders the answer for its task.
// Everything from the server or the models goes into the page through textContent and
// DOM nodes only; the page's policy also forbids HTML strings (Trusted Types).
(() => {
  const MAX_WAIT_MS = 180000;
  const DEFAULT_RETRY_S = 3;
  const data = JSON.parse(document.getElementById("form-data").textContent);
  const base = location.pathname.replace(/\/+$/, "");
  const $ = (id) => document.getElementById(id);

  /** Build an element; string children become text nodes, never markup. */
  function el(tag, className, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const child of children) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  /** Text with `backticks` shown as code, as the task input formats are written. */
  function withCode(text) {
    const parts = String(text).split("`");
    return parts.map((part, i) => (i % 2 ? el("code", "", part) : document.createTextNode(part)));
  }

  async function postJson(url, body, signal) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
    let payload = null;
    if ((response.headers.get("Content-Type") || "").includes("application/json")) {
      try { payload = await response.json(); } catch { payload = null; }
    }
    return { status: response.status, ok: response.ok, body: payload, headers: response.headers };
  }

  function errorMessage(answer) {
    const error = answer.body && answer.body.error;
    if (error && error.message) return error.message;
    if (answer.body && answer.body.message) return answer.body.message;
    return `The server answered with an unexpected status (${answer.status}). Try again in a moment.`;
  }

  // ---- passcode ----------------------------------------------------------

  const login = $("login");
  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const status = $("login-error");
    status.textContent = "";
    const button = event.submitter || $("login-form").querySelector("button");
    button.disabled = true;
    try {
      const answer = await postJson(`${base}/login`, { passcode: $("passcode").value });
      if (answer.status === 204) {
        location.reload();
        return;
      }
      status.textContent = errorMessage(answer);
      $("passcode").select();
    } catch {
      status.textContent = "Could not reach the server. Check your connection and try again.";
    } finally {
      button.disabled = false;
    }
  });

  function askForPasscode(message) {
    $("tool").hidden = true;
    $("output").hidden = true;
    login.hidden = false;
    $("login-error").textContent = message;
    $("passcode").focus();
  }

  if (data.locked) {
    $("passcode").focus();
    return;
  }

  // ---- the model picker ----------------------------------------------------

  const models = new Map(data.models.map((m) => [m.name, m]));
  const select = $("model");
  const textarea = $("text");

  function current() {
    return models.get(select.value) || data.models[0];
  }

  function countChars() {
    const model = current();
    const used = Array.from(textarea.value.trim()).length;
    const counter = $("counter");
    counter.textContent = `${used.toLocaleString()} / ${model.max_chars.toLocaleString()} characters`;
    counter.className = used > model.max_chars ? "over" : "";
  }

  function describeModel() {
    const model = current();
    $("model-description").textContent = model.description || model.task_summary;
    $("model-task").textContent = model.task;
    $("model-format").replaceChildren(...withCode(model.input_format));
    textarea.placeholder = model.example ? `For example: ${model.example}` : "";
    $("example").hidden = !model.example;
    countChars();
  }

  const wanted = new URLSearchParams(location.search).get("model");
  if (wanted && models.has(wanted)) select.value = wanted;
  select.addEventListener("change", describeModel);
  textarea.addEventListener("input", countChars);
  $("example").addEventListener("click", () => {
    textarea.value = current().example;
    countChars();
    textarea.focus();
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $("run-form").requestSubmit();
    }
  });
  describeModel();

  // ---- running ---------------------------------------------------------------

  let controller = null;
  let ticker = null;

  function showProgress(message, started) {
    $("progress").hidden = false;
    if ($("status").textContent !== message) $("status").textContent = message;
    const tick = () => {
      $("elapsed").textContent = `${Math.round((performance.now() - started) / 1000)} s elapsed`;
    };
    tick();
    clearInterval(ticker);
    ticker = setInterval(tick, 1000);
  }

  function stopProgress() {
    clearInterval(ticker);
    ticker = null;
    $("progress").hidden = true;
    $("status").textContent = "";
    $("elapsed").textContent = "";
  }

  function showError(message) {
    const box = $("error");
    box.textContent = message;
    box.hidden = false;
  }

  function setBusy(busy) {
    $("run").disabled = busy;
    $("cancel").hidden = !busy;
    select.disabled = busy;
  }

  function sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(resolve, ms);
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(new DOMException("Cancelled", "AbortError"));
      }, { once: true });
    });
  }

  $("cancel").addEventListener("click", () => controller && controller.abort());

  $("run-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (controller) return;
    const model = current();
    const text = textarea.value;
    controller = new AbortController();
    const { signal } = controller;
    const started = performance.now();
    $("error").hidden = true;
    $("result").replaceChildren();
    setBusy(true);
    showProgress(`Running ${model.title}…`, started);
    try {
      for (;;) {
        const answer = await postJson(base, { model: model.name, text }, signal);
        if (answer.status === 202 || answer.status === 504) {
          const retry = Number((answer.body && answer.body.retry_after) || DEFAULT_RETRY_S);
          if (performance.now() - started + retry * 1000 > MAX_WAIT_MS) {
            showError(`${model.title} is still warming up after ${Math.round(MAX_WAIT_MS / 60000)} minutes. `
              + "Large models can take a while the first time; please try again in a minute.");
            break;
          }
          const note = (answer.body && answer.body.message) || `${model.title} is warming up; this page keeps trying.`;
          showProgress(note, started);
          await sleep(retry * 1000, signal);
          continue;
        }
        if (answer.ok && answer.body) {
          $("result").replaceChildren(renderAnswer(answer.body, text.trim(), performance.now() - started));
        } else if (answer.status === 401 && answer.body && answer.body.error
                   && answer.body.error.type === "passcode_required") {
          askForPasscode(answer.body.error.message);
        } else {
          showError(errorMessage(answer));
        }
        break;
      }
    } catch (error) {
      if (error.name === "AbortError") {
        $("result").replaceChildren(el("p", "muted", "Cancelled."));
      } else {
        showError("Could not reach the server. Check your connection and try again.");
      }
    } finally {
      stopProgress();
      setBusy(false);
      controller = null;
    }
  });

  // ---- rendering, one function per task --------------------------------------

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

  function timings(body, roundTripMs) {
    const t = body.timings || {};
    const parts = [];
    if (t.load_ms > 0) parts.push(`model loaded in ${Math.round(t.load_ms).toLocaleString()} ms`);
    if (t.inference_ms !== undefined) parts.push(`answered in ${Math.round(t.inference_ms).toLocaleString()} ms`);
    parts.push(roundTripMs < 1000 ? `round trip ${Math.round(roundTripMs)} ms` : `round trip ${(roundTripMs / 1000).toFixed(1)} s`);
    if (body.request_id) parts.push(`request ${body.request_id}`);
    return el("p", "meta", ...parts.map((p) => el("span", "", p)));
  }

  function renderAnswer(body, input, roundTripMs) {
    const result = body.result || {};
    const render = renderers[body.task];
    const content = render ? render(result, input) : [el("pre", "values", JSON.stringify(result, null, 2))];
    return el("article", "card result",
      el("div", "result-head", el("h3", "", body.title || body.model), el("span", "tag", body.task)),
      ...content,
      result.truncated ? el("p", "note", "The text was longer than this model reads at once, so only its beginning was used.") : null,
      timings(body, roundTripMs));
  }
})();
