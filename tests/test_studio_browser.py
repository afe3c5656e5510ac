"""The studio in a real browser: Debian's headless Chromium driven by Playwright against a server
started by ``python -m audiodiff.studio`` on a free loopback port with the tiny text model.

Set ``AUDIODIFF_STUDIO_SCREENSHOT=PATH`` to save a screenshot of the page after the generate test,
and ``AUDIODIFF_STUDIO_MODEL=DIR`` (or ``default`` for the bundled model) to serve another model.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile
import torch

sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("gradio")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).is_file():
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

TIMEOUT_MS = 60_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(text_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The studio's address; on teardown the server gets Ctrl-C and must stop cleanly with exit code 0."""
    model = os.environ.get("AUDIODIFF_STUDIO_MODEL", str(text_model_dir))
    port, history = free_port(), tmp_path_factory.mktemp("studio")
    argv = [sys.executable, "-m", "audiodiff.studio", "--port", str(port), "--history", str(history)]
    proc = subprocess.Popen([*argv, *([] if model == "default" else ["--model", model])], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "serving at" in line:
            break
    assert f"serving at http://127.0.0.1:{port}" in "".join(lines), "".join(lines)
    yield f"http://127.0.0.1:{port}"
    proc.send_signal(signal.SIGINT)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "stopped" in rest, rest
    assert not any(p.is_file() for p in history.parent.glob("gradio*")), "a file outside the app's folders"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server: str):  # noqa: ANN001 - Playwright's types
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    outside = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server, "blob:", "data:")) else None)
    page.goto(server)
    yield page
    context.close()
    assert outside == [], f"the page fetched from outside the server: {outside}"


def wait_for_result(page, operation: str, slot: int = 0) -> None:  # noqa: ANN001
    """Wait until result ``slot`` shows an ``operation`` result whose player has loaded its audio."""
    sync_api.expect(page.locator(f"#result-{slot}")).to_contain_text(f"{operation}:", timeout=TIMEOUT_MS)
    player = page.locator(f"#result-audio-{slot} [data-testid^=waveform] audio")
    player.wait_for(state="attached")
    page.wait_for_function("a => a.readyState >= 2", arg=player.element_handle())


def fetch(page, url: str) -> bytes:  # noqa: ANN001
    response = page.request.get(url)
    assert response.ok, url
    return response.body()


def download(page, slot: int, suffix: str) -> bytes:  # noqa: ANN001
    """Click result ``slot``'s download link for the file ending in ``suffix``; the file's bytes."""
    link = page.locator(f"#result-files-{slot} a[download$='{suffix}']")
    with page.expect_download() as info:
        link.click()
    return Path(info.value.path()).read_bytes()


def make_wav(path: Path, seconds: float, rate: int = 16000) -> Path:
    t = torch.arange(int(seconds * rate)) / rate
    soundfile.write(path, (0.4 * torch.sin(2 * torch.pi * 330 * t)).numpy(), rate)
    return path


def error_toast(page, text: str) -> None:  # noqa: ANN001
    """The page shows an error message containing ``text``; close it."""
    toast = page.locator(".toast-body", has_text=text).first
    sync_api.expect(toast).to_be_visible()
    toast.locator(".toast-close").click()


def test_generate_plays_a_sound_of_the_right_length_with_its_spectrogram(page) -> None:  # noqa: ANN001
    duration = float(page.locator("#duration input").input_value())
    page.locator("#prompt textarea").fill("a deep cinematic impact")
    page.locator("#generate-button").click()
    wait_for_result(page, "generate")
    src = page.locator("#result-audio-0 a[download]").first.get_attribute("href")
    audio, rate = soundfile.read(io.BytesIO(fetch(page, src)))
    assert len(audio) / rate == pytest.approx(duration, abs=1 / rate)
    image = page.locator("#result-image-0 img")
    sync_api.expect(image).to_be_visible()
    assert page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=image.element_handle())
    assert fetch(page, image.get_attribute("src"))[:4] == b"\x89PNG"
    settings = json.loads(download(page, 0, ".json"))
    assert settings["prompt"] == "a deep cinematic impact" and settings["operation"] == "generate"
    sync_api.expect(page.locator("#history-table")).to_contain_text("a deep cinematic impact")
    if os.environ.get("AUDIODIFF_STUDIO_SCREENSHOT"):
        page.screenshot(path=os.environ["AUDIODIFF_STUDIO_SCREENSHOT"], full_page=True)
    page.reload()  # the history is read back from disk
    sync_api.expect(page.locator("#history-table")).to_contain_text("a deep cinematic impact")
    page.locator("#history-pick input").click()
    page.get_by_role("option", name="a deep cinematic impact").first.click()
    wait_for_result(page, "generate")
    assert page.locator("#result-audio-0 a[download]").first.get_attribute("href").endswith(Path(src).name)


def test_upload_vary_download_and_use_as_input(page, tmp_path: Path) -> None:  # noqa: ANN001
    wav = make_wav(tmp_path / "upload.wav", 0.5)
    page.get_by_role("tab", name="Vary").click()
    page.locator("#vary-input input[type=file]").set_input_files(wav)
    page.locator("#vary-input [data-testid^=waveform]").first.wait_for()
    page.locator("#prompt textarea").fill("a metallic hit")
    page.locator("#vary-button").click()
    wait_for_result(page, "vary")
    audio, rate = soundfile.read(io.BytesIO(download(page, 0, ".flac")))
    assert len(audio) / rate == pytest.approx(0.5, abs=1 / rate)
    sidecar = json.loads(download(page, 0, ".json"))
    assert sidecar["operation"] == "vary" and sidecar["strength"] == 0.5 and sidecar["prompt"] == "a metallic hit"
    assert sidecar["input"] == "upload.wav" and sidecar["input_sha256"] == hashlib.sha256(wav.read_bytes()).hexdigest()
    wav_bytes = download(page, 0, ".wav")
    page.locator("#result-use-0").click()  # the result goes to vary/inpaint/extend
    page.get_by_role("tab", name="Extend").click()
    page.locator("#extend-input [data-testid^=waveform]").first.wait_for()
    page.locator("#extend-button").click()
    wait_for_result(page, "extend")
    extended = json.loads(download(page, 0, ".json"))
    assert extended["input_sha256"] == hashlib.sha256(wav_bytes).hexdigest() and extended["duration"] == 1.5


def test_bad_input_shows_a_message_and_the_next_request_works(page, tmp_path: Path) -> None:  # noqa: ANN001
    page.locator("#duration input").fill("")
    page.locator("#generate-button").click()
    error_toast(page, "duration is empty")
    page.get_by_role("tab", name="Inpaint").click()
    page.locator("#inpaint-input input[type=file]").set_input_files(make_wav(tmp_path / "short.wav", 0.5))
    page.locator("#inpaint-input [data-testid^=waveform]").first.wait_for()
    page.locator("#regions textarea").fill("0.2:0.3, 0.4:0.9")
    page.locator("#inpaint-button").click()
    error_toast(page, "outside the sound, which lasts 0.5 s")
    page.locator("#regions textarea").fill("0.2:0.3, 0.35:0.45")
    page.locator("#inpaint-button").click()
    wait_for_result(page, "inpaint")
    assert json.loads(download(page, 0, ".json"))["regions"] == [[0.2, 0.3], [0.35, 0.45]]


def test_oversized_and_unreadable_uploads_are_refused_and_two_pages_are_both_served(  # noqa: ANN001
        browser, page, server: str, tmp_path: Path) -> None:
    big = tmp_path / "big.wav"
    with open(big, "wb") as f:  # 60 MB, over the 50 MB limit (sparse: nothing is written)
        f.truncate(60 * 2**20)
    page.get_by_role("tab", name="Vary").click()
    page.locator("#vary-input input[type=file]").set_input_files(big)
    error_toast(page, "exceed the maximum allowed size of 50")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF" + os.urandom(4000))
    page.locator("#vary-input input[type=file]").set_input_files(junk)
    time.sleep(1)  # let the upload finish (no player appears for a file that does not decode)
    page.locator("#vary-button").click()
    error_toast(page, "cannot decode audio file")
    other = browser.new_page()  # a second request while the first runs waits in the queue
    other.goto(server)
    for p, prompt in ((page, "first request"), (other, "second request")):
        p.get_by_role("tab", name="Generate").click()
        p.locator("#prompt textarea").fill(prompt)
    page.locator("#generate-button").click()
    other.locator("#generate-button").click()
    for p, prompt in ((page, "first request"), (other, "second request")):
        wait_for_result(p, "generate")
        sync_api.expect(p.locator("#result-0")).to_contain_text(prompt)
    other.close()
