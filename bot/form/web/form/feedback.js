// Part of the /go page's script: bot/form/page.py joins web/form/*.js, in its SCRIPT_PARTS order, into
// one function body, so every part sees the others' names.
//
// Feedback: 👍 / 👎 and a comment on every answer.

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
