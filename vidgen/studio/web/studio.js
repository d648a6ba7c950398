// vidgen studio: a thin client of the videos API (plain JS, no build step).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { key: "", model: null, current: null, live: null, urls: [] };

// --- the API -----------------------------------------------------------------------------------

async function api(path, opts = {}) {
  const headers = { Authorization: `Bearer ${state.key}`, ...(opts.headers || {}) };
  const res = await fetch(path, { ...opts, headers });
  if (!res.ok) {
    let msg = `${res.status} ${res.statusText}`;
    try {
      const e = (await res.json()).error;
      msg = e.param ? `${e.message} (field: ${e.param})` : e.message;
    } catch (_) { /* not JSON */ }
    throw new Error(msg);
  }
  return res;
}
const json = async (path, opts) => (await api(path, opts)).json();
const blobUrl = async (path) => {
  const url = URL.createObjectURL(await (await api(path)).blob());
  state.urls.push(url);
  return url;
};

function show(msg, kind = "error") {
  const b = $("banner");
  b.textContent = msg;
  b.className = kind;
  b.hidden = false;
  clearTimeout(show.timer);
  show.timer = setTimeout(() => (b.hidden = true), 8000);
}

// --- setup -------------------------------------------------------------------------------------

async function setup() {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get("key");
  if (fromHash) {
    localStorage.setItem("vidgen.key", fromHash);
    history.replaceState(null, "", location.pathname);
  }
  state.key = localStorage.getItem("vidgen.key") || "";
  $("key").value = state.key;
  $("key").addEventListener("change", () => {
    state.key = $("key").value.trim();
    localStorage.setItem("vidgen.key", state.key);
    loadModel().then(refresh);
  });
  if (state.key) {
    await loadModel();
    await refresh();
  } else {
    show("Paste an API key (vidgen keys create) to start.", "info");
  }
}

async function loadModel() {
  try {
    state.model = (await json("/v1/models")).data[0];
  } catch (e) {
    return show(e.message);
  }
  const m = state.model;
  $("size").innerHTML = Object.entries(m.sizes)
    .map(([aspect, s]) => `<option value="${s}">${s} (${aspect})</option>`).join("");
  $("seconds").max = m.max_seconds;
  $("seconds").value = m.max_seconds;
  $("camera").innerHTML = '<option value="">(from the prompt)</option>' +
    m.cameras.map((c) => `<option value="${c}">${c}</option>`).join("");
}

// --- create and follow a video -------------------------------------------------------------------

$("compose").addEventListener("click", () => {
  const parts = ["subject", "action", "environment", "camera", "style"]
    .map((f) => [f, $(`h-${f}`).value.trim()])
    .filter(([, v]) => v)
    .map(([f, v]) => `${f}: ${v}`);
  if (parts.length) $("prompt").value = parts.join(". ") + ".";
});

$("dice").addEventListener("click", () => ($("seed").value = Math.floor(Math.random() * 2 ** 31)));

$("form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = new FormData();
  for (const id of ["prompt", "negative", "size", "seconds", "fps", "steps", "guidance", "seed",
                    "camera", "priority"]) {
    const el = $(id);
    if (el.value !== "") form.append(el.name, el.value);
  }
  if ($("image").files[0]) form.append("input_reference", $("image").files[0]);
  try {
    const v = await json("/v1/videos", { method: "POST", body: form });
    follow(v);
  } catch (e) {
    show(e.message);
  }
});

async function follow(video) {
  state.live = video.id;
  $("live").hidden = false;
  $("live-id").textContent = video.id;
  $("go").disabled = true;
  await refresh();
  let lastPreview = 0;
  try {
    const res = await api(`/v1/videos/${video.id}/events`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += value;
      let cut;
      while ((cut = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const data = block.split("\n").find((l) => l.startsWith("data: "));
        if (!data) continue;
        const v = JSON.parse(data.slice(6));
        if (!v.id) continue;
        $("bar").value = v.progress;
        $("pct").textContent = `${v.progress}% ${v.status.replace("_", " ")}`;
        if (v.status === "in_progress" && Date.now() - lastPreview > 700) {
          lastPreview = Date.now();
          blobUrl(`/v1/videos/${v.id}/content?variant=preview`)
            .then((u) => ($("preview").src = u)).catch(() => {});
        }
        if (v.status === "failed") show(`${v.id} failed: ${v.error ? v.error.message : "?"}`);
        if (v.status === "completed") await open(v.id);
      }
    }
  } catch (e) {
    show(e.message);
  } finally {
    state.live = null;
    $("live").hidden = true;
    $("go").disabled = false;
    await refresh();
  }
}

$("cancel").addEventListener("click", async () => {
  if (state.live) await json(`/v1/videos/${state.live}/cancel`, { method: "POST" }).catch((e) => show(e.message));
});

// --- history and one video -------------------------------------------------------------------------

async function refresh() {
  let list;
  try {
    list = await json("/v1/videos?limit=50");
  } catch (e) {
    return show(e.message);
  }
  const g = $("gallery");
  g.innerHTML = "";
  for (const v of list.data) {
    const card = document.createElement("button");
    card.className = `card ${v.status}`;
    card.dataset.id = v.id;
    card.innerHTML = `<div class="thumb"></div><div class="meta"><b>${v.status.replace("_", " ")}</b>
      ${v.size} · ${v.seconds}s · seed ${v.seed}</div><div class="p"></div>`;
    card.querySelector(".p").textContent = v.prompt;
    card.addEventListener("click", () => open(v.id));
    g.appendChild(card);
    if (v.status === "completed") {
      blobUrl(`/v1/videos/${v.id}/content?variant=thumbnail`).then((u) => {
        card.querySelector(".thumb").style.backgroundImage = `url(${u})`;
      }).catch(() => {});
    }
  }
}

async function open(id) {
  let v;
  try {
    v = await json(`/v1/videos/${id}`);
  } catch (e) {
    return show(e.message);
  }
  state.current = v;
  $("detail").hidden = false;
  $("d-id").textContent = `${v.id} · ${v.status}`;
  $("d-prompt").textContent = v.prompt;
  $("recipe").textContent = JSON.stringify(v.recipe || v, null, 1);
  if (v.status === "completed") {
    const url = await blobUrl(`/v1/videos/${id}/content`);
    $("player").src = url;
    $("download").href = url;
    $("download").download = `${id}.mp4`;
  } else {
    $("player").removeAttribute("src");
  }
}

function fillForm(v) {
  $("prompt").value = v.prompt;
  $("negative").value = v.negative_prompt || "";
  $("size").value = v.size;
  $("seconds").value = v.seconds;
  $("fps").value = v.fps;
  $("steps").value = v.steps;
  $("guidance").value = v.guidance;
  $("seed").value = v.seed;
  $("camera").value = v.camera || "";
}

async function remix(body) {
  try {
    follow(await json(`/v1/videos/${state.current.id}/remix`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }));
  } catch (e) {
    show(e.message);
  }
}

$("remix").addEventListener("click", () => {
  fillForm(state.current);
  const prompt = window.prompt("Remix with a new prompt:", state.current.prompt);
  if (prompt) remix({ prompt });
});
$("rerun").addEventListener("click", () =>
  remix({ prompt: state.current.prompt, seed: Math.floor(Math.random() * 2 ** 31) }));
$("extend").addEventListener("click", async () => {
  try {
    await json("/v1/videos/extensions", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: state.current.prompt, seconds: 2, video: { id: state.current.id } }),
    });
  } catch (e) {
    show(e.message);
  }
});
$("delete").addEventListener("click", async () => {
  if (!confirm(`Delete ${state.current.id}?`)) return;
  try {
    await json(`/v1/videos/${state.current.id}`, { method: "DELETE" });
    $("detail").hidden = true;
    await refresh();
  } catch (e) {
    show(e.message);
  }
});

$("verify-go").addEventListener("click", async () => {
  const file = $("verify-file").files[0];
  if (!file) return show("Choose a video to verify (field: file)");
  const form = new FormData();
  form.append("file", file);
  $("verify-go").disabled = true;
  try {
    const r = await json("/v1/verify", { method: "POST", body: form });
    const wm = r.watermark;
    $("verify-out").textContent =
      `C2PA: ${r.c2pa}\nwatermark: ${wm.found ? `found, payload ${wm.payload}` : "not found"} ` +
      `(confidence ${wm.confidence})\nrecipe: ${JSON.stringify(r.recipe, null, 1)}`;
    $("verify-out").hidden = false;
  } catch (e) {
    show(e.message);
  } finally {
    $("verify-go").disabled = false;
  }
});

setup();
