// unigate console Playground: streams an answer from POST /console/api/chat (OpenAI
// chat.completion.chunk events over SSE) and shows its tokens and credits. The session cookie
// and the page's CSRF token authenticate the call; no key ever reaches this script.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const transcript = $("transcript");
  const composer = $("composer");
  const prompt = $("prompt");
  const send = $("send");
  const stop = $("stop");
  const history = [];
  let controller = null;

  for (const id of ["model", "key"]) {
    const select = $(id);
    if (!select) continue;
    const saved = window.localStorage.getItem(`unigate.playground.${id}`);
    const fromUrl = id === "model" && new URLSearchParams(window.location.search).get("model");
    if (saved && !fromUrl && Array.from(select.options).some((o) => o.value === saved)) select.value = saved;
    select.addEventListener("change", () => window.localStorage.setItem(`unigate.playground.${id}`, select.value));
  }

  const add = (role, text) => {
    transcript.querySelector(".empty")?.remove();
    const box = document.createElement("div");
    box.className = `msg ${role}`;
    box.innerHTML = '<div class="role"></div><div class="text"></div><div class="meta"></div>';
    box.querySelector(".role").textContent = role;
    box.querySelector(".text").textContent = text;
    transcript.appendChild(box);
    transcript.scrollTop = transcript.scrollHeight;
    return box;
  };

  const usd = (credits) => `$${(credits / 2000000).toFixed(6).replace(/0+$/, "").replace(/\.$/, "")}`;

  const busy = (on) => {
    send.disabled = on;
    stop.disabled = !on;
  };

  async function ask(text) {
    history.push({ role: "user", content: text });
    add("user", text);
    const answer = add("assistant", "");
    answer.classList.add("streaming");
    const out = answer.querySelector(".text");
    const meta = answer.querySelector(".meta");
    const messages = [];
    const system = $("system").value.trim();
    if (system) messages.push({ role: "system", content: system });
    messages.push(...history);
    const body = { model: $("model").value, messages };
    const temperature = $("temperature").value;
    if (temperature !== "") body.temperature = Number(temperature);
    const maxTokens = $("max-tokens").value;
    if (maxTokens !== "") body.max_tokens = Number(maxTokens);
    if ($("key")) body.key = $("key").value;

    controller = new AbortController();
    busy(true);
    const started = performance.now();
    let text_ = "";
    let usage = null;
    let charge = null;
    let failure = null;
    try {
      const response = await fetch("/console/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body),
        signal: controller.signal,
        credentials: "same-origin",
      });
      if (!response.ok) {
        let message = `HTTP ${response.status}`;
        try {
          message = (await response.json()).error.message;
        } catch {}
        throw new Error(message);
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const frame = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          for (const line of frame.split("\n")) {
            if (!line.startsWith("data: ")) continue;
            const data = line.slice(6);
            if (data === "[DONE]") continue;
            const chunk = JSON.parse(data);
            if (chunk.error) {
              failure = chunk.error.message;
              continue;
            }
            const delta = chunk.choices?.[0]?.delta?.content;
            if (delta) {
              text_ += delta;
              out.textContent = text_;
              transcript.scrollTop = transcript.scrollHeight;
            }
            if (chunk.usage) usage = chunk.usage;
            if (chunk.meta?.usage) charge = chunk.meta.usage;
          }
        }
      }
    } catch (error) {
      failure = error.name === "AbortError" ? "Stopped." : error.message;
    } finally {
      controller = null;
      busy(false);
      answer.classList.remove("streaming");
    }
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (text_) history.push({ role: "assistant", content: text_ });
    else if (!failure) out.textContent = "(empty answer)";
    if (failure) {
      meta.classList.add("error");
      meta.textContent = failure;
      if (!text_) history.pop();
    }
    if (usage && charge) {
      answer.dataset.promptTokens = usage.prompt_tokens;
      answer.dataset.completionTokens = usage.completion_tokens;
      answer.dataset.credits = charge.credits_used;
      const line = `${usage.prompt_tokens} prompt + ${usage.completion_tokens} completion tokens · ` +
        `${charge.credits_used.toLocaleString()} credits (${usd(charge.credits_used)}) · ${seconds} s`;
      meta.textContent = failure ? `${failure} ${line}` : line;
    }
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = prompt.value.trim();
    if (!text || controller) return;
    prompt.value = "";
    ask(text);
  });
  prompt.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  stop.addEventListener("click", () => controller?.abort());
  $("clear").addEventListener("click", () => {
    controller?.abort();
    history.length = 0;
    transcript.innerHTML = '<p class="muted empty">New conversation.</p>';
  });
});
