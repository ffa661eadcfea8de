// Part of the /go page's script: bot/form/page.py joins web/form/*.js, in its SCRIPT_PARTS order, into
// one function body, so every part sees the others' names.
//
// The chat mode: a conversation with one chat model (task text-generation), kept on this page only.
// Each turn sends the conversation so far as "messages" (oldest first) beside the new "text"; the
// server drops the oldest turns that do not fit (the answer then says so once), and nothing of the
// conversation is stored anywhere but here. "New conversation" forgets it.

const CHAT_TASK = "text-generation";
const chatModels = data.models.filter((m) => m.task === CHAT_TASK);
/** The conversation so far, oldest first, as the server takes it: {role: "user" | "assistant", content}. */
const conversation = [];
let chatModel = null;

const chatting = () => Boolean($("mode-chat") && $("mode-chat").checked);

function chatBubble(role, who, ...content) {
  return el("li", `turn ${role}`, el("p", "who", who), ...content);
}

/** Show or hide the conversation; in chat mode only chat models can be picked. */
function describeChat(select) {
  const on = chatting();
  $("chat").hidden = !on;
  for (const option of select.options) {
    const model = data.models.find((m) => m.name === option.value);
    option.disabled = on && !(model && model.task === CHAT_TASK);
  }
  if (on && select.selectedOptions[0] && select.selectedOptions[0].disabled && chatModels.length) {
    select.value = chatModels[0].name;
  }
  if (on && chatModel && chatModel.name !== select.value) newConversation();  // another model: start again
}

function newConversation() {
  conversation.length = 0;
  chatModel = null;
  $("chat-log").replaceChildren();
  $("chat-empty").hidden = false;
}

/** One turn: the person's words at once, the model's answer under them when it comes. */
async function chatTurn(model, text, signal, onWait) {
  const words = text.trim();
  const log = $("chat-log");
  $("chat-empty").hidden = true;
  const mine = chatBubble("user", "You", el("p", "prose", words));
  log.append(mine);
  // The model's words as it writes them, in a bubble of their own that the answer replaces.
  let writing = null;
  const showWriting = (partial) => {
    const bubble = chatBubble("assistant", model.title, el("p", "prose", partial),
      el("p", "meta", el("span", "", "still writing…")));
    if (writing) writing.replaceWith(bubble);
    else log.append(bubble);
    writing = bubble;
  };
  const outcome = await runModel(model, words, signal, onWait, showWriting, { messages: conversation });
  if (writing) writing.remove();
  if (!outcome.body) {
    mine.append(el("p", "note", "Not answered: this turn is not part of the conversation."));
    return outcome;
  }
  const result = outcome.body.result || {};
  chatModel = model;
  conversation.push({ role: "user", content: words }, { role: "assistant", content: String(result.text || "") });
  log.append(chatBubble("assistant", model.title,
    ...renderers[CHAT_TASK](result),
    result.trimmed_turns ? el("p", "note", "Older messages were left out: the conversation is longer than the model reads.") : null,
    timings(outcome.body, outcome.ms),
    outcome.body.feedback ? feedbackArea(outcome.body) : null));
  return outcome;
}

$("chat-new").addEventListener("click", () => {
  newConversation();
  $("text").focus();
});
if (!chatModels.length) {
  $("mode-chat").hidden = true;
  document.querySelector('label[for="mode-chat"]').hidden = true;
}
