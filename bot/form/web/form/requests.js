// Part of the /go page's script: bot/form/page.py joins web/form/*.js, in its SCRIPT_PARTS order, into
// one function body, so every part sees the others' names.
//
// Talking to the server: JSON posts and file uploads, their errors in plain words, and one model run
// that asks again while the model warms up or is busy.

const MAX_WAIT_MS = 180000;
const DEFAULT_RETRY_S = 3;
// How often the page asks for a run's text so far while the model writes it.
const PARTIAL_POLL_MS = 700;

async function postJson(url, body, signal) {
  return post(url, { "Content-Type": "application/json" }, JSON.stringify(body), signal);
}

/** A FormData body (a file upload): the browser writes its multipart Content-Type and boundary itself. */
async function postForm(url, form, signal) {
  return post(url, {}, form, signal);
}

async function post(url, headers, body, signal) {
  const response = await fetch(url, { method: "POST", headers, body, credentials: "same-origin", signal });
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

/** A run's name for its text so far: 128 random bits in hex, which only this page knows. */
function streamName() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Ask for the text so far of the run named ``stream`` every PARTIAL_POLL_MS until ``done`` aborts,
 * handing ``onPartial`` each new text. A failed poll is skipped: the answer itself still comes.
 */
async function pollPartials(stream, done, onPartial) {
  let shown = "";
  while (!done.aborted) {
    try {
      await sleep(PARTIAL_POLL_MS, done);
      const answer = await postJson(`${base}/partial`, { stream }, done);
      const text = answer.ok && answer.body && typeof answer.body.text === "string" ? answer.body.text : "";
      if (text && text !== shown && !done.aborted) {
        shown = text;
        onPartial(text);
      }
    } catch {
      if (done.aborted) return;
    }
  }
}

/** One text run, JSON, while asking for its text so far (handed to ``onPartial``) until it is answered. */
async function postStreamed(model, text, signal, onPartial, fields) {
  const stream = streamName();
  const done = new AbortController();
  const stop = () => done.abort();
  signal.addEventListener("abort", stop, { once: true });
  pollPartials(stream, done.signal, onPartial);
  try {
    return await postJson(base, { ...fields, model: model.name, text, stream }, signal);
  } finally {
    done.abort();
    signal.removeEventListener("abort", stop);
  }
}

/** A run with a file: the model's name, the file and the text beside it (labels, a caption's start). */
function uploadForm(model, text, file) {
  const form = new FormData();
  form.append("model", model.name);
  form.append("text", text);
  form.append("file", file, file.name || "file");
  return form;
}

/**
 * One ordinary run of ``model``, asking again while it warms up, while it is busy and while this
 * address has too many runs going (a 429: after its Retry-After); ``onWait`` gets the note, and
 * ``onPartial`` the text so far while a model that streams writes it (by default, shown in place of
 * the answer to come, when one model runs); ``fields`` go in the request beside the text (the chat
 * mode's ``messages``). With a ``file`` (a model that reads images or audio) the run is an upload,
 * sent again with each retry. Resolves to {body, ms}, {error} or {passcode}; a cancel or a network
 * failure throws.
 */
async function runModel(model, text, signal, onWait, onPartial = (partial) => showPartial(model, partial), fields = {}, file = null) {
  const started = performance.now();
  for (;;) {
    const answer = file
      ? await postForm(base, uploadForm(model, text, file), signal)
      : await postStreamed(model, text, signal, onPartial, fields);
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
