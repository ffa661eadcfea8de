"""The one rule for what may be compared, for Slack and the form alike.

``/hf compare a,b[,c] text``, ``@bot compare a,b text`` and the form's compare mode all ask
:func:`check_compare` whether two or three models can take one input, and refuse in its words.
Running a comparison in Slack is :func:`bot.slack.runs.start_compare`; its one thread reply,
filled in as each model answers, is :mod:`bot.slack.compare_reply`.
"""

from __future__ import annotations

from bot.core.model_requests import check_input
from bot.core.mrkdwn import inline_code
from inference.errors import InferenceError
from inference.registry import ModelSpec, Registry
from inference.tasks import media_kind

COMPARE = "compare"
MAX_MODELS = 3


class CompareError(ValueError):
    """A comparison that cannot run, worded for the person who asked."""


def check_compare(registry: Registry, names: list[str], text: str, *, usage: str = "") -> tuple[list[ModelSpec], str]:
    """The one rule for what may be compared, for Slack and the form alike: the models and the checked text.

    Args:
        names: registry names, as given.
        usage: a sentence added to the mistakes that are about how the comparison was asked for.

    Raises:
        CompareError: fewer than two or more than three models, an unknown or repeated
            name, a model that reads a file (each runs alone, on its file), no text, or an
            input that one of the models cannot take.
    """
    hint = f" {usage}" if usage else ""
    if not 2 <= len(names) <= MAX_MODELS or len(set(names)) != len(names):
        raise CompareError(f"Compare two or three different models.{hint}")
    unknown = [n for n in names if registry.find(n) is None]
    if unknown:
        raise CompareError(f"No model called {', '.join(inline_code(n[:40]) for n in unknown)}.{hint}")
    specs = [registry.get(n) for n in names]
    files = [inline_code(spec.name) for spec in specs if media_kind(spec.task) is not None]
    if files:
        reads = "reads" if len(files) == 1 else "read"
        raise CompareError(
            f"{', '.join(files)} {reads} files; a comparison runs text models on one text. Run it as one model."
        )
    if not text.strip():
        raise CompareError(f"There is no text to compare on.{hint}")
    checked = ""
    for spec in specs:
        try:
            checked = check_input(spec, text)
        except InferenceError as exc:
            tasks = ", ".join(sorted({s.task for s in specs}))
            raise CompareError(
                f"`{spec.name}` ({spec.task}) can't take this input: {exc} These models do: {tasks}."
            ) from exc
    return specs, checked
