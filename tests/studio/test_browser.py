"""The web studio in headless Chromium (Debian's chromium + chromedriver, driven by selenium):
submit a prompt, watch progress move, play the finished video; a screenshot is saved."""

import shutil
import time
from pathlib import Path

import pytest

SHOTS = Path(__file__).resolve().parents[2] / "out" / "screenshots"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.fail("chromium and chromedriver are needed (apt-get install chromium-driver)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--window-size=1280,1000",
                 "--autoplay-policy=no-user-gesture-required"):  # fmt: skip
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    yield driver
    driver.quit()


def wait_for(fn, timeout=120, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(step)
    raise TimeoutError(fn)


def test_studio_generates_and_plays(browser, server, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    d = browser
    d.get(f"{server.url}/#key={server.key}")
    wait_for(lambda: d.find_elements(By.CSS_SELECTOR, "#size option"))
    d.find_element(By.ID, "prompt").send_keys("a red ball moves left on a checkerboard floor")
    Select(d.find_element(By.ID, "size")).select_by_value("128x128")
    steps = d.find_element(By.ID, "steps")
    steps.clear()
    steps.send_keys("200")  # the tiny model denoises 40 steps faster than the 0.25 s event poll
    # every value the page gives the bar, as it gives it (sampling from here can miss them)
    d.execute_script("""window.barValues = [];
        const bar = document.getElementById('bar');
        new MutationObserver(() => window.barValues.push(Number(bar.value)))
            .observe(bar, {attributes: true, attributeFilter: ['value']});""")
    d.find_element(By.ID, "go").click()
    wait_for(lambda: d.find_element(By.ID, "player").get_attribute("src"), step=0.05)
    progress = d.execute_script("return window.barValues")
    moved = sorted(set(p for p in progress if 0 < p < 100))
    assert moved, f"progress never moved: {progress}"
    # the video plays: the element has decoded frames and its clock advances
    d.execute_script("document.getElementById('player').play()")
    playing = "const v = document.getElementById('player'); return v.currentTime > 0.2"
    wait_for(lambda: d.execute_script(playing))
    assert d.execute_script("return document.getElementById('player').videoWidth") == 128
    cards = d.find_elements(By.CSS_SELECTOR, "#gallery .card.completed")
    assert cards, "the finished video is in the history"
    # the verify panel checks a file: here the video just made
    import httpx

    vid = cards[0].get_attribute("data-id")
    r = httpx.get(f"{server.url}/v1/videos/{vid}/content", headers=server.headers())
    path = tmp_path / "made.mp4"
    path.write_bytes(r.content)
    d.find_element(By.ID, "verify-file").send_keys(str(path))
    d.find_element(By.ID, "verify-go").click()
    report = wait_for(lambda: d.find_element(By.ID, "verify-out").text)
    assert "C2PA: valid" in report and "watermark: found" in report, report
    SHOTS.mkdir(parents=True, exist_ok=True)
    d.set_window_size(1280, d.execute_script("return document.body.scrollHeight") + 140)
    d.save_screenshot(str(SHOTS / "studio.png"))  # the whole page
    # an error reaches the user as a message naming the field
    d.find_element(By.ID, "extend").click()
    banner = wait_for(lambda: d.find_element(By.ID, "banner").text)
    assert "extend" in banner and "field: video" in banner
    # a prompt the content policy refuses: the message names the category, nothing is queued
    prompt = d.find_element(By.ID, "prompt")
    prompt.clear()
    prompt.send_keys("a graphic beheading with blood spraying everywhere")
    d.find_element(By.ID, "go").click()
    refusal = wait_for(lambda: "violence" in (t := d.find_element(By.ID, "banner").text) and t)
    assert "field: prompt" in refusal, refusal
    assert len(d.find_elements(By.CSS_SELECTOR, "#gallery .card")) == 1
