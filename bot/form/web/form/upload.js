// Part of the /go page's script: bot/form/page.py joins web/form/*.js, in its SCRIPT_PARTS order, into
// one function body, so every part sees the others' names.
//
// The file a model reads (its catalog entry's "media": "image" or "audio"): one drop zone takes it from
// the file button, a drop or a paste, shows it (the image, or an audio player) with its name and size,
// and refuses one larger than the form takes here (data.uploads, bytes per kind) before anything is
// sent. The server checks the file again, by its content, and its refusal is shown like any error.

const KIND_WORDS = { image: "an image", audio: "an audio file" };
const KIND_LABELS = { image: "Image", audio: "Audio" };
const MB = 1024 * 1024;
const fileInput = $("file");
const drop = $("drop");
/** The file the next run sends: {file, kind}, or null. */
let upload = null;
/** The kind of file the chosen model reads, or null for a text model (and in compare or chat mode). */
let uploadKind = null;
let previewUrl = null;
let uploadModel = null;

/** A size for people, as the server words it (inference.media.describe_size): "21.4 MB", "312 KB". */
function sizeText(bytes) {
  return bytes >= MB ? `${(bytes / MB).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

function fileStatus(message, isError = false) {
  const status = $("file-status");
  status.textContent = message;
  status.classList.toggle("error", isError);
}

/** Show the upload area for ``model`` when it reads a file (null: none), and forget a file of another kind. */
function describeUpload(model) {
  uploadModel = model;
  uploadKind = (model && model.media) || null;
  $("file-field").hidden = !uploadKind;
  if (!uploadKind) return;
  $("file-label").textContent = KIND_LABELS[uploadKind];
  fileInput.accept = `${uploadKind}/*`;
  $("drop-limit").textContent = `${KIND_LABELS[uploadKind]} files up to ${sizeText(data.uploads[uploadKind])}.`;
  if (upload && upload.kind !== uploadKind) {
    clearUpload();
    fileStatus("");
  }
}

function clearUpload() {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = null;
  upload = null;
  fileInput.value = "";
  $("file-shown").replaceChildren();
  $("file-preview").hidden = true;
  drop.hidden = false;
}

/** Take ``file`` for the next run, or say why not (it stays unsent, and the file before it stays chosen). */
function takeFile(file) {
  if (!uploadKind || !file) return;
  const cap = data.uploads[uploadKind];
  if (file.size > cap) {
    const note = data.upload_note ? ` ${data.upload_note}` : "";
    fileStatus(`The file is ${sizeText(file.size)}; ${uploadModel.title} takes ${uploadKind} files of at most `
      + `${sizeText(cap)}.${note}`, true);
    return;
  }
  clearUpload();
  upload = { file, kind: uploadKind };
  previewUrl = URL.createObjectURL(file);
  const name = file.name || "Pasted file";
  let shown = el("p", "muted", "No preview for this kind of file: the model reads it all the same.");
  if (file.type.startsWith("image/")) {
    shown = el("img", "");
    shown.alt = `Preview of ${name}`;
    shown.src = previewUrl;
  } else if (file.type.startsWith("audio/")) {
    shown = el("audio", "");
    shown.controls = true;
    shown.src = previewUrl;
    shown.setAttribute("aria-label", `Play ${name}`);
  }
  $("file-shown").replaceChildren(shown);
  $("file-name").textContent = name;
  $("file-size").textContent = sizeText(file.size);
  $("file-preview").hidden = false;
  drop.hidden = true;
  fileStatus(`${name} (${sizeText(file.size)}) is ready to run.`);
}

/** The first file a drop or a paste carries, if any. */
function firstFile(transfer) {
  return transfer && transfer.files && transfer.files.length ? transfer.files[0] : null;
}

drop.addEventListener("click", () => fileInput.click());
drop.addEventListener("keydown", (event) => {
  if (event.key === "Enter" || event.key === " ") {
    event.preventDefault();
    fileInput.click();
  }
});
fileInput.addEventListener("change", () => takeFile(fileInput.files[0]));
// A drop anywhere in the upload area: on the drop zone, or on the preview to replace the file.
const dropArea = $("file-field");
for (const name of ["dragenter", "dragover"]) {
  dropArea.addEventListener(name, (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
}
dropArea.addEventListener("dragleave", () => drop.classList.remove("over"));
dropArea.addEventListener("drop", (event) => {
  event.preventDefault();
  drop.classList.remove("over");
  takeFile(firstFile(event.dataTransfer));
});
// A file pasted anywhere on the page (an image copied to the clipboard); pasted text stays text.
document.addEventListener("paste", (event) => {
  const file = firstFile(event.clipboardData);
  if (!uploadKind || !file) return;
  event.preventDefault();
  takeFile(file);
});
$("file-remove").addEventListener("click", () => {
  clearUpload();
  fileStatus("The file was removed.");
  drop.focus();
});

/** Why the chosen model cannot run yet (no file), or "" when it can. */
function missingFile(model) {
  return model.media && !upload ? `${model.title} reads ${KIND_WORDS[model.media]}: choose one first.` : "";
}
