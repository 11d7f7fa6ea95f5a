// unigate console Playground, Speech tab: speaks a text through POST /console/api/speech (the
// audio bytes, their cost in the X-Credits-Used header) and transcribes an uploaded file through
// POST /console/api/transcribe (JSON). The session cookie and the page's CSRF token authenticate
// both calls; no key ever reaches this script.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  // The chosen key and models are remembered, the key shared with the Chat tab.
  for (const [id, name] of [["key", "key"], ["speak-model", "speak-model"], ["transcribe-model", "transcribe-model"]]) {
    const select = $(id);
    if (!select) continue;
    const saved = window.localStorage.getItem(`unigate.playground.${name}`);
    if (saved && Array.from(select.options).some((o) => o.value === saved)) select.value = saved;
    select.addEventListener("change", () => window.localStorage.setItem(`unigate.playground.${name}`, select.value));
  }

  const usd = (credits) => `$${(credits / 2000000).toFixed(6).replace(/0+$/, "").replace(/\.$/, "")}`;
  const charged = (credits) => `${credits.toLocaleString()} credits (${usd(credits)})`;
  const seconds = (started) => `${((performance.now() - started) / 1000).toFixed(1)} s`;

  async function failure(response) {
    try {
      return (await response.json()).error.message;
    } catch {
      return `HTTP ${response.status}`;
    }
  }

  const show = (result, meta, text, isError) => {
    result.hidden = false;
    meta.textContent = text;
    meta.classList.toggle("error", isError);
  };

  // -- Speak --------------------------------------------------------------------------------------
  const speakForm = $("speak-form");
  const speakButton = $("speak-button");
  const speakResult = $("speak-result");
  const speakMeta = $("speak-meta");
  const audio = $("speak-audio");

  speakForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("speak-text").value;
    if (!text.trim() || speakButton.disabled) return;
    const body = { model: $("speak-model").value, text };
    const voice = $("speak-voice").value.trim();
    if (voice) body.voice = voice;
    if ($("key")) body.key = $("key").value;
    speakButton.disabled = true;
    speakResult.removeAttribute("data-credits");
    show(speakResult, speakMeta, "Speaking…", false);
    const started = performance.now();
    try {
      const response = await fetch("/console/api/speech", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(await failure(response));
      const credits = Number(response.headers.get("X-Credits-Used") || 0);
      let blob;
      try {
        blob = await response.blob();
      } catch {
        // The stream broke off: the ledger charges nothing for a truncated answer.
        throw new Error("The audio broke off before its end; nothing was charged.");
      }
      if (audio.src) URL.revokeObjectURL(audio.src);
      audio.src = URL.createObjectURL(blob);
      speakResult.dataset.credits = credits;
      show(speakResult, speakMeta, `${charged(credits)} · ${seconds(started)}`, false);
      audio.play().catch(() => {}); // a browser that refuses to autoplay leaves the controls
    } catch (error) {
      show(speakResult, speakMeta, error.message, true);
    } finally {
      speakButton.disabled = false;
    }
  });

  // -- Transcribe ---------------------------------------------------------------------------------
  const transcribeForm = $("transcribe-form");
  const transcribeButton = $("transcribe-button");
  const transcribeResult = $("transcribe-result");
  const transcribeMeta = $("transcribe-meta");
  const transcriptText = $("transcript-text");

  transcribeForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("transcribe-file").files[0];
    if (!file || transcribeButton.disabled) return;
    const form = new FormData();
    form.append("model", $("transcribe-model").value);
    if ($("key")) form.append("key", $("key").value);
    form.append("file", file, file.name);
    transcribeButton.disabled = true;
    transcribeResult.removeAttribute("data-credits");
    transcriptText.hidden = true;
    show(transcribeResult, transcribeMeta, "Transcribing…", false);
    const started = performance.now();
    try {
      const response = await fetch("/console/api/transcribe", {
        method: "POST",
        headers: { "X-CSRF-Token": csrf },
        body: form,
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(await failure(response));
      const answer = await response.json();
      transcriptText.textContent = answer.text || "(no speech heard)";
      transcriptText.hidden = false;
      transcribeResult.dataset.credits = answer.credits_used;
      const line = `${answer.duration_s.toFixed(1)} s of audio · ${charged(answer.credits_used)} · ${seconds(started)}`;
      show(transcribeResult, transcribeMeta, line, false);
    } catch (error) {
      show(transcribeResult, transcribeMeta, error.message, true);
    } finally {
      transcribeButton.disabled = false;
    }
  });
});
