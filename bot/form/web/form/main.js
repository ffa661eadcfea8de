// Part of the /go page's script: bot/form/page.py joins web/form/*.js, in its SCRIPT_PARTS order, into
// one function body, so every part sees the others' names.
//
// The page itself: the passcode panel, the model picker (one model, or two or three to compare), and
// the run button (with the chosen file, for a model that reads one: upload.js). The last part: when the page is locked it stops here, after the passcode panel.

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
    // A model that reads files is run alone: a comparison runs text models on one text.
    box.disabled = busy || (full && !box.checked) || Boolean(models.get(box.value).media);
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
  $("run").textContent = on ? "Compare" : chatting() ? "Send" : "Run";
  describeChat(select);
  if (on) describePicks();
  else describeModel();
  describeUpload(on || chatting() ? null : current());
  const lead = chosen()[0];
  // Beside a file the text is an option (labels, a caption's start), so its box is smaller; a task that reads
  // only its file (classify, detect, transcribe) has none.
  $("text-field").hidden = Boolean(lead && !lead.reads_text);
  $("text-label").textContent = lead && lead.media ? "Text (optional)" : "Text";
  textarea.classList.toggle("short", Boolean(lead && lead.media));
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

async function runOne(model, text, signal, started) {
  const missing = missingFile(model);
  if (missing) {
    showError(missing);
    drop.focus();
    return;
  }
  const sent = model.media ? upload : null;
  if (!model.reads_text) text = "";
  showProgress(`Running ${model.title}…`, started);
  const outcome = await runModel(model, text, signal, (note) => showProgress(note, started), undefined, {},
    sent && sent.file);
  if (outcome.body) $("result").replaceChildren(renderAnswer(outcome.body, text.trim(), outcome.ms, "", sent));
  else if (outcome.passcode) askForPasscode(outcome.passcode);
  else showError(outcome.error);
}

async function runChatTurn(model, text, signal, started) {
  showProgress(`${model.title} is thinking…`, started);
  const outcome = await chatTurn(model, text, signal, (note) => showProgress(note, started));
  if (outcome.body) textarea.value = "";
  else if (outcome.passcode) askForPasscode(outcome.passcode);
  else showError(outcome.error);
  countChars();
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
    else if (chatting()) await runChatTurn(chosenModels[0], text, signal, started);
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
