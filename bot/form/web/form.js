"use strict";
// The /go page: picks a model (or two or three to compare), posts the text as JSON, renders each
// answer for its task, and takes 👍 / 👎 and comments on it.
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

  /** Seconds to wait before asking again: the Retry-After header, else the body's retry_after. */
  function retryAfter(answer) {
    const header = Number(answer.headers.get("Retry-After"));
    if (Number.isFinite(header) && header > 0) return header;
    return Number((answer.body && answer.body.retry_after) || DEFAULT_RETRY_S);
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

  // ---- the model picker: one model, or two or three to compare ---------------

  const MAX_COMPARE = data.max_compare;
  const models = new Map(data.models.map((m) => [m.name, m]));
  const select = $("model");
  const textarea = $("text");
  const picks = $("compare-picks");
  let busy = false;

  for (const model of data.models) {
    const box = el("input");
    box.type = "checkbox";
    box.name = "models";
    box.value = model.name;
    picks.append(el("label", "pick", box,
      el("span", "pick-text", el("span", "pick-title", model.title), el("span", "tag", model.task))));
  }
  const boxes = () => Array.from(picks.querySelectorAll("input"));

  const comparing = () => $("mode-compare").checked;

  function current() {
    return models.get(select.value) || data.models[0];
  }

  function picked() {
    return boxes().filter((box) => box.checked).map((box) => models.get(box.value));
  }

  /** The models the next run uses: the picked ones when comparing, else the selected one. */
  function chosen() {
    return comparing() ? picked() : [current()];
  }

  function countChars() {
    const limited = chosen();
    const limit = limited.length ? Math.min(...limited.map((m) => m.max_chars)) : current().max_chars;
    const used = Array.from(textarea.value.trim()).length;
    const counter = $("counter");
    counter.textContent = `${used.toLocaleString()} / ${limit.toLocaleString()} characters`;
    counter.className = used > limit ? "over" : "";
  }

  function describeModel() {
    const model = current();
    $("model-description").textContent = model.description || model.task_summary;
    $("model-task").textContent = model.task;
    $("model-format").replaceChildren(...withCode(model.input_format));
  }

  /** The picked models' input formats, and no more than MAX_COMPARE boxes ticked. */
  function describePicks() {
    const chosenNow = picked();
    const full = chosenNow.length >= MAX_COMPARE;
    for (const box of boxes()) {
      box.disabled = busy || (full && !box.checked);
      box.closest("label").classList.toggle("off", box.disabled && !box.checked);
    }
    $("compare-count").textContent = `${chosenNow.length} of ${MAX_COMPARE} chosen.`;
    $("compare-about").replaceChildren(...chosenNow.map((m) => el("li", "",
      el("span", "tag", m.task), " ", el("strong", "", m.title), " ",
      el("span", "muted", "Input:"), " ", ...withCode(m.input_format))));
  }

  function describe() {
    const on = comparing();
    $("one-field").hidden = on;
    $("compare-field").hidden = !on;
    $("run").textContent = on ? "Compare" : "Run";
    if (on) describePicks();
    else describeModel();
    const lead = chosen()[0];
    textarea.placeholder = lead && lead.example ? `For example: ${lead.example}` : "";
    $("example").hidden = !(lead && lead.example);
    countChars();
  }

  function startComparing() {
    if (comparing() && !picked().length) {
      const box = boxes().find((b) => b.value === current().name);
      if (box) box.checked = true;
    }
    describe();
  }

  const query = new URLSearchParams(location.search);
  const wanted = query.get("model");
  if (wanted && models.has(wanted)) select.value = wanted;
  const compareWanted = (query.get("compare") || "").split(",").filter((name) => models.has(name));
  if (compareWanted.length) {
    $("mode-compare").checked = true;
    for (const box of boxes()) box.checked = compareWanted.slice(0, MAX_COMPARE).includes(box.value);
  }
  select.addEventListener("change", describe);
  picks.addEventListener("change", describe);
  for (const radio of document.querySelectorAll('input[name="mode"]')) radio.addEventListener("change", startComparing);
  textarea.addEventListener("input", countChars);
  $("example").addEventListener("click", () => {
    textarea.value = chosen()[0].example;
    countChars();
    textarea.focus();
  });
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      $("run-form").requestSubmit();
    }
  });
  const stats = $("stats-link");
  stats.href = `${base}/stats`;
  stats.hidden = false;
  describe();

  // ---- running -----------------------------------------------------------------

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
    box.replaceChildren(...withCode(message));
    box.hidden = false;
  }

  function setBusy(value) {
    busy = value;
    $("run").disabled = busy;
    $("cancel").hidden = !busy;
    select.disabled = busy;
    for (const radio of document.querySelectorAll('input[name="mode"]')) radio.disabled = busy;
    describePicks();
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

  const passcodeNeeded = (answer) => answer.status === 401 && answer.body && answer.body.error
    && answer.body.error.type === "passcode_required";

  /**
   * One ordinary run of ``model``, asking again while it warms up, while it is busy and while this
   * address has too many runs going (a 429: after its Retry-After); ``onWait`` gets the note.
   * Resolves to {body, ms}, {error} or {passcode}; a cancel or a network failure throws.
   */
  async function runModel(model, text, signal, onWait) {
    const started = performance.now();
    for (;;) {
      const answer = await postJson(base, { model: model.name, text }, signal);
      const refused = answer.status === 429;
      if (refused || answer.status === 202 || answer.status === 504) {
        const retry = retryAfter(answer);
        if (performance.now() - started + retry * 1000 > MAX_WAIT_MS) {
          const minutes = Math.round(MAX_WAIT_MS / 60000);
          return { error: refused
            ? `${model.title} stayed busy for ${minutes} minutes. Please try again in a while.`
            : `${model.title} is still warming up after ${minutes} minutes. `
              + "Large models can take a while the first time; please try again in a minute." };
        }
        onWait(refused ? errorMessage(answer)
          : (answer.body && answer.body.message) || `${model.title} is warming up; this page keeps trying.`);
        await sleep(retry * 1000, signal);
        continue;
      }
      if (answer.ok && answer.body) return { body: answer.body, ms: performance.now() - started };
      if (passcodeNeeded(answer)) return { passcode: answer.body.error.message };
      return { error: errorMessage(answer) };
    }
  }

  async function runOne(model, text, signal, started) {
    showProgress(`Running ${model.title}…`, started);
    const outcome = await runModel(model, text, signal, (note) => showProgress(note, started));
    if (outcome.body) $("result").replaceChildren(renderAnswer(outcome.body, text.trim(), outcome.ms));
    else if (outcome.passcode) askForPasscode(outcome.passcode);
    else showError(outcome.error);
  }

  /** Ask once whether the models can take the text, then run them all at once, a column each. */
  async function runCompare(chosenModels, text, signal, started) {
    if (chosenModels.length < 2) {
      showError(`Pick two or three models to compare (you picked ${chosenModels.length}).`);
      return;
    }
    showProgress("Checking that these models can take this text…", started);
    const check = await postJson(`${base}/compare-check`, { models: chosenModels.map((m) => m.name), text }, signal);
    if (passcodeNeeded(check)) {
      askForPasscode(check.body.error.message);
      return;
    }
    if (!check.ok) {
      showError(errorMessage(check));
      return;
    }
    showProgress(`Comparing ${chosenModels.length} models: each column fills in when its model answers.`, started);
    const columns = chosenModels.map(newColumn);
    $("result").replaceChildren(el("div", `columns cols-${columns.length}`, ...columns.map((c) => c.node)));
    const outcomes = await Promise.all(columns.map((column) => fillColumn(column, text, signal)));
    const locked = outcomes.find((outcome) => outcome.passcode);
    if (locked) askForPasscode(locked.passcode);
  }

  function newColumn(model) {
    const status = el("span", "", `Waiting for ${model.title}…`);
    const elapsed = el("span", "muted");
    elapsed.setAttribute("aria-hidden", "true");
    const spinner = el("div", "spinner");
    spinner.setAttribute("aria-hidden", "true");
    const waiting = el("div", "progress", spinner, el("p", "", status, " ", elapsed));
    const node = el("article", "card result column",
      el("div", "result-head", el("h3", "", model.title), el("span", "tag", model.task)), waiting);
    node.setAttribute("aria-busy", "true");
    return { model, node, waiting, status, elapsed };
  }

  /** Run one column's model; the column shows its own progress, then its answer or its error. */
  async function fillColumn(column, text, signal) {
    const started = performance.now();
    const tick = () => {
      column.elapsed.textContent = `${Math.round((performance.now() - started) / 1000)} s`;
    };
    tick();
    const timer = setInterval(tick, 1000);
    let outcome;
    try {
      outcome = await runModel(column.model, text, signal, (note) => {
        if (column.status.textContent !== note) column.status.textContent = note;
      });
    } catch (error) {
      outcome = error.name === "AbortError"
        ? { cancelled: true }
        : { error: "Could not reach the server. Check your connection and try again." };
    } finally {
      clearInterval(timer);
    }
    column.node.removeAttribute("aria-busy");
    if (outcome.body) {
      column.node.replaceWith(renderAnswer(outcome.body, text.trim(), outcome.ms, "column"));
    } else if (outcome.cancelled) {
      column.waiting.replaceWith(el("p", "muted", "Cancelled."));
    } else {
      column.node.classList.add("failed");
      column.waiting.replaceWith(el("p", "error", ...withCode(outcome.error || outcome.passcode)));
    }
    return outcome;
  }

  $("cancel").addEventListener("click", () => controller && controller.abort());

  $("run-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (controller) return;
    const chosenModels = chosen();
    const text = textarea.value;
    controller = new AbortController();
    const { signal } = controller;
    const started = performance.now();
    $("error").hidden = true;
    $("result").replaceChildren();
    setBusy(true);
    try {
      if (comparing()) await runCompare(chosenModels, text, signal, started);
      else await runOne(chosenModels[0], text, signal, started);
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

  // ---- feedback: 👍 / 👎 and a comment on every answer ---------------------------

  let feedbackCount = 0;

  function tallyText(tally) {
    const comments = tally.comments === 1 ? "1 comment" : `${tally.comments} comments`;
    return `${tally.up} 👍 · ${tally.down} 👎 · ${comments}`;
  }

  /** Send a vote or a comment; resolves to {tally}, {error} or {passcode}. */
  async function sendFeedback(requestId, payload) {
    try {
      const answer = await postJson(`${base}/feedback`, { request_id: requestId, ...payload });
      if (answer.ok && answer.body && answer.body.tally) return { tally: answer.body.tally };
      if (passcodeNeeded(answer)) return { passcode: answer.body.error.message };
      return { error: errorMessage(answer) };
    } catch {
      return { error: "Could not reach the server. Check your connection and try again." };
    }
  }

  function voteButton(symbol, words) {
    const count = el("span", "count");
    count.hidden = true;
    const icon = el("span", "", symbol);
    icon.setAttribute("aria-hidden", "true");
    const button = el("button", "vote", icon, el("span", "visually-hidden", words), count);
    button.type = "button";
    button.setAttribute("aria-pressed", "false");
    return { button, count };
  }

  /** The buttons and the inline comment box under one answer. */
  function feedbackArea(body) {
    const id = `feedback-${++feedbackCount}`;
    const votes = { up: voteButton("👍", "Good answer"), down: voteButton("👎", "Not a good answer") };
    const status = el("p", "feedback-status");
    status.setAttribute("role", "status");
    const open = el("button", "ghost small", "Add a comment");
    open.type = "button";
    open.setAttribute("aria-expanded", "false");
    open.setAttribute("aria-controls", `${id}-form`);

    const box = el("textarea");
    box.id = `${id}-text`;
    box.rows = 3;
    box.maxLength = data.max_comment_chars;
    const label = el("label", "", "Your comment");
    label.htmlFor = box.id;
    const send = el("button", "primary small", "Send comment");
    send.type = "submit";
    const close = el("button", "ghost small", "Cancel");
    close.type = "button";
    const form = el("form", "comment-form", label, box, el("div", "actions", send, close));
    form.id = `${id}-form`;
    form.noValidate = true;
    form.hidden = true;

    const group = el("div", "feedback", el("span", "muted", "Was this answer useful?"),
      votes.up.button, votes.down.button, open);
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", `Feedback on the answer of ${body.title || body.model}`);

    function show(outcome, done) {
      status.className = "feedback-status";
      if (outcome.tally) {
        for (const [name, vote] of Object.entries(votes)) {
          vote.count.textContent = String(outcome.tally[name]);
          vote.count.hidden = false;
        }
        status.textContent = `${done} ${tallyText(outcome.tally)}`;
      } else if (outcome.passcode) {
        askForPasscode(outcome.passcode);
      } else {
        status.classList.add("error");
        status.textContent = outcome.error;
      }
    }

    for (const [name, vote] of Object.entries(votes)) {
      vote.button.addEventListener("click", async () => {
        votes.up.button.disabled = votes.down.button.disabled = true;
        const outcome = await sendFeedback(body.request_id, { vote: name });
        votes.up.button.disabled = votes.down.button.disabled = false;
        if (outcome.tally) {
          for (const [other, { button }] of Object.entries(votes)) button.setAttribute("aria-pressed", String(other === name));
        }
        show(outcome, "Thanks, your vote is in:");
      });
    }

    function toggleComment(visible) {
      form.hidden = !visible;
      open.setAttribute("aria-expanded", String(visible));
      if (visible) box.focus();
      else open.focus();
    }
    open.addEventListener("click", () => toggleComment(form.hidden));
    close.addEventListener("click", () => toggleComment(false));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!box.value.trim()) {
        status.className = "feedback-status error";
        status.textContent = "Write a comment first.";
        box.focus();
        return;
      }
      send.disabled = true;
      const outcome = await sendFeedback(body.request_id, { comment: box.value });
      send.disabled = false;
      show(outcome, "Thanks, your comment is saved:");
      if (outcome.tally) {
        open.textContent = "Edit your comment";
        toggleComment(false);
      }
    });
    return el("div", "feedback-area", group, form, status);
  }

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

  function renderAnswer(body, input, roundTripMs, extraClass = "") {
    const result = body.result || {};
    const render = renderers[body.task];
    const content = render ? render(result, input) : [el("pre", "values", JSON.stringify(result, null, 2))];
    return el("article", `card result ${extraClass}`.trim(),
      el("div", "result-head", el("h3", "", body.title || body.model), el("span", "tag", body.task)),
      ...content,
      result.truncated ? el("p", "note", "The text was longer than this model reads at once, so only its beginning was used.") : null,
      timings(body, roundTripMs),
      body.feedback ? feedbackArea(body) : null);
  }
})();
