// Part of the /go page's script: bot/form/page.py joins web/form/*.js, in its SCRIPT_PARTS order, into
// one function body, so every part sees the others' names.
//
// Compare mode: one check that the models can take the text, then a column per model.

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
