"""The multipart/form-data reader of the form's uploads (bot/core/multipart.py): strict, and every refusal a 4xx."""

from __future__ import annotations

import pytest

from bot.core.http import BadRequest
from bot.core.multipart import MAX_UPLOAD_BODY_BYTES, is_upload, parse_form_data
from inference.media import MAX_BYTES
from tests.bot.form.conftest import BOUNDARY, form_data

CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
LIMITS = {"model": 200, "text": 1000, "file": 10_000}
PNG_HEAD = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def parse(body: bytes, content_type: str = CONTENT_TYPE, limits: dict[str, int] = LIMITS):
    return parse_form_data(body, content_type, limits=limits)


def refusal(body: bytes, content_type: str = CONTENT_TYPE, limits: dict[str, int] = LIMITS) -> BadRequest:
    with pytest.raises(BadRequest) as caught:
        parse(body, content_type, limits)
    return caught.value


def test_fields_and_a_file_are_read_byte_for_byte() -> None:
    body = form_data(
        [
            ("model", b"tiny-detect", None, None),
            ("text", "cat, d\u00f6g".encode(), None, None),
            ("file", PNG_HEAD + b"\r\n--not-the-boundary\r\n", "photo.png", "image/png"),
        ]
    )

    fields = parse(body)

    assert list(fields) == ["model", "text", "file"]
    assert fields["model"].text() == "tiny-detect" and fields["model"].filename is None
    assert fields["text"].text() == "cat, d\u00f6g"
    assert fields["file"].data == PNG_HEAD + b"\r\n--not-the-boundary\r\n"
    assert fields["file"].filename == "photo.png"


def test_an_empty_part_and_a_quoted_boundary_are_read() -> None:
    body = form_data([("model", b"m", None, None), ("file", b"", "", "application/octet-stream")], boundary="a b:c")

    fields = parse(body, 'multipart/form-data; boundary="a b:c"')

    assert fields["file"].data == b"" and fields["file"].filename == ""


def test_what_follows_the_closing_delimiter_is_ignored() -> None:
    body = form_data([("model", b"m", None, None)]) + b"an epilogue\r\n"

    assert parse(body)["model"].data == b"m"


def test_a_file_name_that_is_not_utf8_is_kept_for_display_with_replacement_characters() -> None:
    body = form_data([("file", b"data", None, None)]).replace(
        b'name="file"', b'name="file"; filename="caf\xe9 \\"quoted\\".png"'
    )

    assert parse(body)["file"].filename == 'caf\ufffd "quoted".png'


@pytest.mark.parametrize(
    ("content_type", "says"),
    [
        ("multipart/form-data", "needs a boundary"),
        ("multipart/form-data; boundary=", "needs a boundary"),
        ("multipart/form-data; boundary=" + "x" * 71, "needs a boundary"),
        ("multipart/form-data; boundary=bad\u00e9", "needs a boundary"),
    ],
)
def test_no_valid_boundary_is_a_400(content_type: str, says: str) -> None:
    error = refusal(form_data([("model", b"m", None, None)]), content_type)

    assert error.status == 400 and says in str(error)


def test_another_content_type_is_a_415() -> None:
    error = refusal(b"{}", "application/json")

    assert error.status == 415 and "multipart/form-data" in str(error)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        pytest.param(b"", "not multipart/form-data", id="empty"),
        pytest.param(b"model=m", "not multipart/form-data", id="url-encoded"),
        pytest.param(form_data([("model", b"m", None, None)], boundary="other"), "not multipart", id="other-boundary"),
        pytest.param(form_data([("model", b"m", None, None)])[:-12], "ended before", id="truncated"),
        pytest.param(
            f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=model\r\n\r\nm".encode(), "ended before", id="no-end"
        ),
        pytest.param(
            f"--{BOUNDARY}xx\r\n".encode() + form_data([("model", b"m", None, None)]), "not multipart", id="junk"
        ),
    ],
)
def test_a_body_that_is_not_whole_multipart_is_a_400(body: bytes, says: str) -> None:
    error = refusal(body)

    assert error.status == 400 and says in str(error)


@pytest.mark.parametrize(
    ("head", "says"),
    [
        pytest.param(b"Content-Type: text/plain", "Content-Disposition: form-data", id="no-disposition"),
        pytest.param(b"Content-Disposition: attachment; name=model", "Content-Disposition: form-data", id="attachment"),
        pytest.param(b"Content-Disposition: form-data", "no field name", id="no-name"),
        pytest.param(b'Content-Disposition: form-data; name=""', "no field name", id="empty-name"),
        pytest.param(b"Content-Disposition: form-data; name=model; !!", "cannot be read", id="junk-parameter"),
        pytest.param(b"no colon here", "cannot be read", id="not-a-header"),
        pytest.param(
            b"Content-Disposition: form-data; name=a\r\nContent-Disposition: form-data; name=model", "two", id="two"
        ),
        pytest.param(b"X-Long: " + b"x" * 5000, "no readable headers", id="huge-head"),
    ],
)
def test_a_part_without_readable_form_data_headers_is_a_400(head: bytes, says: str) -> None:
    body = f"--{BOUNDARY}\r\n".encode() + head + f"\r\n\r\nm\r\n--{BOUNDARY}--\r\n".encode()

    error = refusal(body)

    assert error.status == 400 and says in str(error)


def test_a_part_with_no_blank_line_after_its_headers_is_a_400() -> None:
    body = f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=model\r\n--{BOUNDARY}--\r\n".encode()

    assert "no readable headers" in str(refusal(body))


def test_a_field_sent_twice_is_a_400() -> None:
    error = refusal(form_data([("model", b"a", None, None), ("model", b"b", None, None)]))

    assert error.status == 400 and 'sent "model" twice' in str(error)


def test_a_field_not_expected_is_a_400_naming_the_ones_that_are() -> None:
    error = refusal(form_data([("model", b"a", None, None), ("function", b"arn:aws:lambda:...", None, None)]))

    assert error.status == 400
    assert str(error) == 'The form has no field "function": send only "model", "text", "file".'


def test_a_part_over_its_fields_cap_is_a_413() -> None:
    error = refusal(form_data([("file", b"x" * 10_001, "big.png", "image/png")]))

    assert (error.status, error.type) == (413, "too_large")
    assert '"file" is larger than 10,000 bytes' in str(error)


def test_a_field_at_its_cap_is_read() -> None:
    assert len(parse(form_data([("file", b"x" * 10_000, "f", None)]))["file"].data) == 10_000


def test_a_text_field_that_is_not_utf8_is_a_400() -> None:
    fields = parse(form_data([("text", b"\xff\xfe", None, None)]))

    with pytest.raises(BadRequest, match='"text" is not UTF-8'):
        fields["text"].text()


def test_only_a_multipart_post_to_the_form_is_an_upload() -> None:
    multipart = "multipart/form-data; boundary=x"
    assert is_upload("POST", "/go", multipart) and is_upload("post", "/go/", multipart)
    assert not is_upload("GET", "/go", multipart)
    assert not is_upload("POST", "/go/feedback", multipart)
    assert not is_upload("POST", "/slack/events", multipart)
    assert not is_upload("POST", "/go", "application/json")
    assert max(MAX_BYTES.values()) < MAX_UPLOAD_BODY_BYTES
